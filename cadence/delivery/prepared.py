"""A batch prepared before its claim, on PostgreSQL: its rows read without locks, checked,
rendered and composed (:mod:`cadence.delivery.preparation`), and its emails' sends reserved
ahead (:class:`Reservation`), so the claim holds its locks for a few statements."""

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from cadence.delivery.preparation import (
    ComposedEmail,
    NotNow,
    ReadyTask,
    attempts_for,
    claimable,
)
from cadence.delivery.send_limits import Reservation
from cadence.runtime.context import AppContext
from cadence.store.database import is_postgres
from cadence.store.rows import EnrollmentView, TouchView, batch_views, same_row

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch checked, rendered and composed before its claim, from rows read without
    locks, with the sends reserved for its emails. The claim uses a touch's result only if
    its touch and enrollment rows, once locked, are as they were read here (same rows,
    same clock), and holds its locks for a few statements instead of the batch's rendering.

    The other inputs are not compared, and need not be. Prospect rows were never locked by
    a claim: an edit (a re-import moving a prospect's time zone, say) committed a moment
    before the claim's read or a moment after made the same race, now a render long
    instead of a statement long. Whatever must stop a touch (a reply, bounce or unsubscribe
    suppressing the address or marking it invalid) halts the enrollment in the same
    transaction, which the comparison sees. A reply step's parent is an earlier step of the
    same enrollment, sent before this touch was planned. A mailbox stopped between the
    preparation and the claim (a pause, a refused login elsewhere) lets this one batch go
    as prepared, as a pause committed a moment after the claim would."""

    reservation: Reservation
    ready: Mapping[int, ComposedEmail | ReadyTask] = field(default_factory=dict)

    def reusable_for(
        self, touch: TouchView, enrollment: EnrollmentView
    ) -> ComposedEmail | ReadyTask | None:
        assert touch.id is not None
        ready = self.ready.get(touch.id)
        if ready is None:
            return None
        work = ready.work
        if same_row(work.touch, touch) and same_row(work.enrollment, enrollment):
            return ready
        return None


@contextmanager
def prepared_batch(ctx: AppContext, touch_ids: Sequence[int]) -> Iterator[PreparedBatch]:
    """The batch prepared for its claim (PostgreSQL), the unused sends given back when the
    claim ends. On SQLite nothing is prepared: its one write lock serializes claims and
    halts whatever a claim holds it for, and reading the batch twice would only cost."""
    now = ctx.clock.now()
    if not is_postgres(ctx.engine):
        yield PreparedBatch(Reservation.none(now))
        return
    with ctx.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        with Session(connection) as reader:
            ready = _prepare(ctx, reader, touch_ids, now)
        senders = [r.work.sender for r in ready.values() if isinstance(r, ComposedEmail)]
        reservation = Reservation.take_ahead(connection, senders, now=now)
    try:
        yield PreparedBatch(reservation, ready)
    except BaseException:
        reservation.untake()
        raise
    finally:
        try:
            reservation.give_back(ctx.engine)
        except SQLAlchemyError:  # never the claim's failure: its emails are committed now
            log.warning("unused sends reserved for a claim stay counted", exc_info=True)


def _prepare(
    ctx: AppContext, reader: Session, touch_ids: Sequence[int], now: datetime
) -> dict[int, ComposedEmail | ReadyTask]:
    """What each touch that may start now renders and composes to; the rest (held back,
    failing, already taken) are left to the claim, which records why under its locks."""
    found, prospects = batch_views(reader, touch_ids)
    attempts = attempts_for(ctx, reader, claimable(found.values()), now, prospects)
    return {i: a for i, a in attempts.items() if not isinstance(a, NotNow)}
