"""``in_list`` on both stores: the rows an IN would find, whatever the list holds, and on
PostgreSQL an index still answers it."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Integer, String, column, create_engine, select, table, text

from cadence.store.sql_lists import in_list

pytestmark = pytest.mark.integration

ROWS = table("listed", column("id", Integer), column("name", String(40)))
NAMES = ["ann", "o'brien", "50%_off", "zoë", "a\\b", "'); DROP TABLE listed; --"]


@pytest.fixture
def connection(database_url: str) -> Iterator[Connection]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE listed (id INTEGER PRIMARY KEY, name VARCHAR(40))"))
        connection.execute(
            ROWS.insert(), [{"id": i, "name": name} for i, name in enumerate(NAMES, 1)]
        )
        yield connection
    engine.dispose()


BY_ID = select(ROWS.c.id).where(in_list(ROWS.c.id, "ids")).order_by(ROWS.c.id)
BY_NAME = select(ROWS.c.name).where(in_list(ROWS.c.name, "names")).order_by(ROWS.c.id)


def test_it_finds_what_in_finds_for_lists_of_every_length(connection: Connection) -> None:
    for ids in ([1, 3], [2], [], list(range(-40, 0)), [6, 6, 99], (4, 5), {1}):
        found = connection.execute(BY_ID, {"ids": ids}).scalars().all()
        assert found == sorted(i for i in set(ids) if 1 <= i <= len(NAMES)), ids


def test_values_are_bound_never_spliced_into_the_sql(connection: Connection) -> None:
    found = connection.execute(BY_NAME, {"names": [*NAMES[1:], "nobody"]}).scalars().all()

    assert found == NAMES[1:]
    assert connection.execute(select(ROWS.c.id).order_by(ROWS.c.id)).scalars().all() == [
        1, 2, 3, 4, 5, 6,
    ]  # fmt: skip


def test_a_longer_value_never_matches_a_row_it_begins_with(connection: Connection) -> None:
    """PostgreSQL cuts a value down to an explicit cast's length: bound as VARCHAR(40)[],
    the 41 characters below would find the row of their first 40."""
    forty = "f" * 40
    connection.execute(ROWS.insert(), {"id": 7, "name": forty})

    assert connection.execute(BY_NAME, {"names": [forty + "x"]}).scalars().all() == []
    assert connection.execute(BY_NAME, {"names": [forty]}).scalars().all() == [forty]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_looks_the_list_up_in_the_primary_key(connection: Connection) -> None:
    """Unordered, so only the list's condition can make the plan use the index."""
    connection.execute(text("SET enable_seqscan = off"))
    sql = select(ROWS.c.name).where(in_list(ROWS.c.id, "ids")).compile(connection)
    plan = " ".join(connection.exec_driver_sql(f"EXPLAIN {sql}", {"ids": [1, 2]}).scalars().all())

    assert "listed_pkey" in plan, plan
    assert "Index Cond: (id = ANY" in plan, plan
