"""Use cases, one transaction each: what the CLI, the API, the scheduler and workers call."""

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from sqlmodel import select

from cadence.audit_log import record_audit
from cadence.claiming import claim_due, mark_unconfirmed, stale_queued, tick_work, unclaim
from cadence.context import AppContext
from cadence.database import is_postgres, migrate, reading, transaction
from cadence.domain import EventKind
from cadence.enrollment import EnrollResult, enroll
from cadence.errors import InputError
from cadence.events import EventOutcome, record_event, resume_due
from cadence.models import TemplateVersion
from cadence.prospect_import import (
    ImportReport,
    parse_prospect_csv,
    read_csv_text,
    save_prospects,
)

log = logging.getLogger(__name__)


def init_store(ctx: AppContext) -> int:
    """Migrate the schema and record the current template versions; returns new versions."""
    migrate(ctx.engine)
    return record_template_versions(ctx)


def record_template_versions(ctx: AppContext) -> int:
    """Keep every template text a process may render, so history never loses a version.

    Called by ``init`` and whenever a process that renders starts."""
    added = 0
    with transaction(ctx.engine) as session:
        known = {(v.name, v.version) for v in session.exec(select(TemplateVersion))}
        for template in ctx.catalog.templates.values():
            if (template.name, template.version) in known:
                continue
            record_audit(
                session,
                at=ctx.clock.now(),
                action="template:version",
                after=f"{template.name}@{template.version}",
                reason="new" if not any(n == template.name for n, _ in known) else "changed",
            )
            session.add(
                TemplateVersion(
                    name=template.name,
                    version=template.version,
                    kind=template.kind,
                    source=template.source,
                    first_seen_at=ctx.clock.now(),
                )
            )
            added += 1
    return added


def import_prospects(
    ctx: AppContext,
    path: Path,
    *,
    owner: str | None,
    actor: str,
    skip_invalid: bool = False,
) -> ImportReport:
    """All rows or none: with any rejected row nothing is written unless ``skip_invalid``."""
    sender = ctx.catalog.team.sender(owner)
    rows, rejected = parse_prospect_csv(read_csv_text(path), ctx.catalog, source=str(path))
    report = ImportReport(rejected=rejected)
    if rejected and not skip_invalid:
        return report
    with transaction(ctx.engine) as session:
        save_prospects(
            session, rows, owner=sender.name, now=ctx.clock.now(), actor=actor, report=report
        )
    return report


def enroll_prospects(
    ctx: AppContext,
    emails: Sequence[str],
    cadence: str,
    *,
    owner: str | None,
    actor: str,
    allow_replied: bool = False,
) -> EnrollResult:
    with transaction(ctx.engine) as session:
        return enroll(
            session,
            ctx.catalog,
            emails=emails,
            cadence_name=cadence,
            owner=owner,
            now=ctx.clock.now(),
            actor=actor,
            allow_replied=allow_replied,
        )


def record(
    ctx: AppContext,
    kind: EventKind,
    email: str,
    *,
    occurred_at: datetime | None = None,
    actor: str = "system",
    source: str = "cli",
    cadence: str | None = None,
    reason: str | None = None,
) -> EventOutcome:
    """Record an event by hand, with the same effects as an inbound one."""
    if occurred_at is not None and occurred_at.tzinfo is None:
        raise InputError("--at needs a time zone, for example 2026-11-23T09:00:00+00:00")
    with transaction(ctx.engine) as session:
        return record_event(
            session,
            ctx.catalog,
            kind=kind,
            email=email,
            now=ctx.clock.now(),
            occurred_at=occurred_at,
            actor=actor,
            source=source,
            cadence=cadence,
            reason=reason,
        )


def scheduler_tick(ctx: AppContext, enqueue: Callable[[Sequence[int]], None]) -> int:
    """Claim every due touch in batches and hand their ids to ``enqueue``; also recover
    touches lost on the way (re-enqueued) and flag crashed sends (unconfirmed).

    Claims commit before enqueueing: a crash in between leaves ``queued`` rows that the
    stale sweep re-sends, never an email sent twice (workers compare-and-set).
    """
    now = ctx.clock.now()
    batch = ctx.settings.claim_batch_size
    total = 0
    with reading(ctx.engine) as connection:
        work = tick_work(connection, now=now)
    stale: list[int] = []
    unconfirmed = 0
    if work.sweep:
        with transaction(ctx.engine) as session:
            stale = stale_queued(session, now=now, limit=batch)
            unconfirmed = mark_unconfirmed(session, now=now)
    # Apart from the sweeps: they hold touch rows, and resuming waits for enrollment rows,
    # the reverse of the order a worker locks them in (a deadlock on PostgreSQL).
    resumed: list[int] = []
    if work.resume:
        with transaction(ctx.engine) as session:
            resumed = resume_due(session, ctx.catalog, now=now)
    if resumed:
        log.info("resumed %d enrollments after out-of-office", len(resumed))
    if stale:
        log.warning("re-enqueueing %d touches queued but never picked up", len(stale))
        enqueue(stale)
    if unconfirmed:
        log.warning("%d touches left mid-send are now unconfirmed", unconfirmed)
    while True:
        with transaction(ctx.engine) as session:
            ids = claim_due(session, now=now, limit=batch, skip_locked=is_postgres(ctx.engine))
        if ids:
            try:
                enqueue(ids)
            except Exception:
                # The broker is down: give the batch back now rather than strand it for the
                # stale sweep (and count a loss against each touch).
                with transaction(ctx.engine) as session:
                    unclaim(session, ids)
                raise
            total += len(ids)
        if len(ids) < batch:
            return total
