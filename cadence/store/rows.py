"""Read-only views of store rows, for the worker's hot path.

A claim reads each batch's touches, enrollments and prospects. Built as ORM objects (identity
map, instrumented attributes, a JSON column parsed into a tracked dict) those rows cost more
than the rest of the claim. These views are plain SQLAlchemy rows with the models' attribute
names (or named tuples of the same fields, cut from a joined read's row), typed by the
protocols below; the ORM models satisfy the protocols too, so the pure planning and
rendering code takes either. A row that must change is loaded as a model then.
"""

from collections import namedtuple
from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import ColumnElement, Row, Table, bindparam, select
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from cadence.store.models import ENROLLMENTS as _ENROLLMENTS
from cadence.store.models import PROSPECTS as _PROSPECTS
from cadence.store.models import TOUCHES as _TOUCHES
from cadence.store.sql_lists import in_list


class ProspectView(Protocol):
    """What planning, rendering and the contact checks read of a prospect."""

    @property
    def id(self) -> int | None: ...
    @property
    def email(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def company(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def persona(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def country(self) -> str | None: ...
    @property
    def stage(self) -> str: ...
    @property
    def custom(self) -> dict[str, str]: ...
    @property
    def do_not_contact(self) -> bool: ...
    @property
    def email_status(self) -> str: ...
    @property
    def unsubscribe_token(self) -> str: ...


class EnrollmentView(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def prospect_id(self) -> int: ...
    @property
    def cadence(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def state(self) -> str: ...


class TouchView(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def enrollment_id(self) -> int: ...
    @property
    def prospect_id(self) -> int: ...
    @property
    def step(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...


def _view_columns(view: type, table: Table) -> tuple[ColumnElement[Any], ...]:
    """The columns a view reads, by its properties' names: a row holds no column it does not
    need (each datetime and JSON column read is a conversion per row)."""
    names = [name for name, value in vars(view).items() if isinstance(value, property)]
    return tuple(table.c[name] for name in names)


PROSPECT_VIEW_COLUMNS = _view_columns(ProspectView, _PROSPECTS)
ENROLLMENT_VIEW_COLUMNS = _view_columns(EnrollmentView, _ENROLLMENTS)
_TOUCH_VIEW_COLUMNS = _view_columns(TouchView, _TOUCHES)


def _row_part(name: str, columns: tuple[ColumnElement[Any], ...]) -> Any:
    """A view type for one table's part of a joined read's row: the same fields, in the same
    order, as a row of that table's own read, so :func:`same_row` compares one with the
    other."""
    return namedtuple(name, [column.name for column in columns])


_TouchTuple = _row_part("_TouchTuple", _TOUCH_VIEW_COLUMNS)
_EnrollmentTuple = _row_part("_EnrollmentTuple", ENROLLMENT_VIEW_COLUMNS)
_ProspectTuple = _row_part("_ProspectTuple", PROSPECT_VIEW_COLUMNS)
#: Built once: a statement object built per call cost more in SQLAlchemy (construction and
#: cache key) than the database took to run it. ``ids`` is a list (:mod:`cadence.store.sql_lists`).
_PROSPECTS_BY_ID = select(*PROSPECT_VIEW_COLUMNS).where(in_list(_PROSPECTS.c.id, "ids"))
_PROSPECT_BY_EMAIL = select(*PROSPECT_VIEW_COLUMNS).where(_PROSPECTS.c.email == bindparam("email"))
_LOCK_ENROLLMENTS_OF_TOUCHES = (
    select(*ENROLLMENT_VIEW_COLUMNS)
    .join(_TOUCHES, _TOUCHES.c.enrollment_id == _ENROLLMENTS.c.id)
    .where(in_list(_TOUCHES.c.id, "ids"))
    .order_by(_ENROLLMENTS.c.id)
    .with_for_update(of=_ENROLLMENTS)
)
#: The touches with their enrollments and prospects, in one statement (and one snapshot).
_BATCH_VIEWS = (
    select(*_TOUCH_VIEW_COLUMNS, *ENROLLMENT_VIEW_COLUMNS, *PROSPECT_VIEW_COLUMNS)
    .join(_ENROLLMENTS, _ENROLLMENTS.c.id == _TOUCHES.c.enrollment_id)
    .join(_PROSPECTS, _PROSPECTS.c.id == _TOUCHES.c.prospect_id)
    .where(in_list(_TOUCHES.c.id, "ids"))
    .order_by(_TOUCHES.c.id)
)
#: Where a joined row's touch and enrollment parts end (the prospect's runs to its end).
_ENDS = (len(_TOUCH_VIEW_COLUMNS), len(_TOUCH_VIEW_COLUMNS) + len(ENROLLMENT_VIEW_COLUMNS))
#: Locked too: the stale sweep fails a lost touch holding only the touch's row lock, and a
#: claim that read the row without waiting could overwrite "failed" and send it.
_LOCK_TOUCHES = (
    select(*_TOUCH_VIEW_COLUMNS)
    .where(in_list(_TOUCHES.c.id, "ids"))
    .order_by(_TOUCHES.c.id)
    .with_for_update(of=_TOUCHES)
)


def prospect_views(session: Session, ids: Collection[int]) -> dict[int, ProspectView]:
    if not ids:
        return {}
    rows = session.connection().execute(_PROSPECTS_BY_ID, {"ids": list(ids)})
    return {row.id: cast(ProspectView, row) for row in rows}


def prospect_view_by_email(session: Session, email: str) -> ProspectView | None:
    """The prospect with this (lower-cased) address, if any, with the session's pending
    changes written first, as an ORM query would."""
    session.flush()
    row = session.connection().execute(_PROSPECT_BY_EMAIL, {"email": email}).first()
    return cast(ProspectView, row) if row is not None else None


def lock_enrollments_of_touches(
    session: Session, touch_ids: Collection[int]
) -> dict[int, EnrollmentView]:
    """The touches' enrollments by id, locked (the lock a halt takes) in id order, so two
    batches never wait on each other in a cycle."""
    rows = session.connection().execute(_LOCK_ENROLLMENTS_OF_TOUCHES, {"ids": list(touch_ids)})
    return {row.id: cast(EnrollmentView, row) for row in rows}


def locked_touch_views(
    session: Session, touch_ids: Collection[int]
) -> dict[int, tuple[TouchView, EnrollmentView]]:
    """The touches and their enrollments, the enrollment rows locked first, and the touches
    locked and read after them, so their status is the committed one."""
    if not touch_ids:
        return {}
    enrollments = lock_enrollments_of_touches(session, touch_ids)
    rows = session.connection().execute(_LOCK_TOUCHES, {"ids": list(touch_ids)})
    return {row.id: (cast(TouchView, row), enrollments[row.enrollment_id]) for row in rows}


def batch_views(
    session: Session, touch_ids: Collection[int]
) -> tuple[dict[int, tuple[TouchView, EnrollmentView]], dict[int, ProspectView]]:
    """The values :func:`locked_touch_views` reads, without locks, and the touches'
    prospects: one statement, so one round trip and one snapshot. A touch or enrollment
    view from here compares equal to the locked read's (:func:`same_row`) while the row is
    unchanged."""
    if not touch_ids:
        return {}, {}
    rows = session.connection().execute(_BATCH_VIEWS, {"ids": list(touch_ids)})
    found: dict[int, tuple[TouchView, EnrollmentView]] = {}
    prospects: dict[int, ProspectView] = {}
    touch_end, enrollment_end = _ENDS
    for row in rows:
        touch = cast(TouchView, _TouchTuple._make(row[:touch_end]))
        enrollment = cast(EnrollmentView, _EnrollmentTuple._make(row[touch_end:enrollment_end]))
        prospect = cast(ProspectView, _ProspectTuple._make(row[enrollment_end:]))
        assert touch.id is not None and prospect.id is not None
        found[touch.id] = (touch, enrollment)
        prospects[prospect.id] = prospect
    return found, prospects


_ROW_VIEWS = (Row, _TouchTuple, _EnrollmentTuple, _ProspectTuple)


def same_row(view: object, other: object) -> bool:
    """Two views of one table's view columns (a row, or its part of a joined read's row)
    hold the same values; a model is never the same row (its values may be unsaved)."""
    return (
        isinstance(view, _ROW_VIEWS)
        and isinstance(other, _ROW_VIEWS)
        and tuple(view) == tuple(other)
    )


def expire_loaded(session: Session, model: type[Any], ids: Collection[int | None]) -> None:
    """Models the session holds of rows a Core statement changed are read again at their
    next use (changed through a view, a row's model would otherwise keep its old values)."""
    for row_id in ids:
        loaded = session.identity_map.get(identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded)


_M = TypeVar("_M")


def model_of(session: Session, model: type[_M], row_id: int | None) -> _M:
    """A row read as a view, as a model: for the rarer changes made through the audited ORM
    transitions (the caller holds the row's lock already)."""
    found = session.get(model, row_id)
    assert found is not None
    return found
