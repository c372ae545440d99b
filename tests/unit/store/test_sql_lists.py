"""``in_list`` compiles to one array parameter on PostgreSQL and an expanding IN elsewhere,
and two lists on different columns or names never share a compiled statement."""

from sqlalchemy import literal, select
from sqlalchemy.dialects import postgresql, sqlite

from cadence.store.models import MAILBOX_DAYS, SUPPRESSIONS, TOUCHES
from cadence.store.sql_lists import in_list


def _sql(statement: object, dialect: object) -> str:
    return " ".join(str(statement.compile(dialect=dialect)).split())  # type: ignore[attr-defined]


def test_postgresql_binds_the_whole_list_as_one_typed_array() -> None:
    by_id = select(TOUCHES.c.id).where(in_list(TOUCHES.c.id, "ids"))
    by_value = select(SUPPRESSIONS.c.reason).where(in_list(SUPPRESSIONS.c.value, "values"))

    assert _sql(by_id, postgresql.psycopg.dialect()).endswith(
        "WHERE touch.id = ANY (%(ids)s::INTEGER[])"
    )
    assert _sql(by_value, postgresql.psycopg.dialect()).endswith(
        "WHERE suppression.value = ANY (%(values)s::VARCHAR[])"
    )


def test_sqlite_expands_the_list_and_compares_nothing_with_1() -> None:
    statement = select(TOUCHES.c.id).where(in_list(TOUCHES.c.id, "ids"), TOUCHES.c.step == 1)

    assert _sql(statement, sqlite.dialect()).endswith(
        "WHERE touch.id IN (__[POSTCOMPILE_ids]) AND touch.step = ?"
    )


def test_the_cache_key_tells_columns_and_names_apart() -> None:
    def key(statement: object) -> object:
        return statement._generate_cache_key()  # type: ignore[attr-defined]

    by_id = select(TOUCHES.c.id).where(in_list(TOUCHES.c.id, "ids"))

    assert key(by_id) == key(select(TOUCHES.c.id).where(in_list(TOUCHES.c.id, "ids")))
    assert key(by_id) != key(select(TOUCHES.c.id).where(in_list(TOUCHES.c.step, "ids")))
    assert key(by_id) != key(select(TOUCHES.c.id).where(in_list(TOUCHES.c.id, "steps")))


def test_a_statement_reads_from_a_table_it_names_only_in_the_list() -> None:
    statement = select(literal(1)).where(in_list(TOUCHES.c.id, "ids"))

    for dialect in (postgresql.psycopg.dialect(), sqlite.dialect()):
        assert "FROM touch WHERE" in _sql(statement, dialect)


def test_postgresql_binds_strings_without_their_column_length() -> None:
    statement = select(MAILBOX_DAYS.c.day).where(in_list(MAILBOX_DAYS.c.owner, "owners"))

    assert _sql(statement, postgresql.psycopg.dialect()).endswith(
        "WHERE mailboxday.owner = ANY (%(owners)s::VARCHAR[])"
    )
