"""The ``cadence`` command (contract.md): a thin edge over the services."""

import csv
import signal
import sys
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cadence.cli.authoring import cadences_app, templates_app
from cadence.cli.mailboxes import mailboxes_app
from cadence.cli.support import (
    app_context,
    cli_actor,
    err_console,
    handle_errors,
    out_console,
    parse_instant,
    print_json,
)
from cadence.cli.users import users_app
from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.core.errors import InputError
from cadence.reports.touch_history import AUDIT_FIELDS, event_rows, touch_rows
from cadence.runtime.store_setup import init_store
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record as record_by_hand
from cadence.sequences.prospect_import import import_prospects
from cadence.store.database import transaction

app = typer.Typer(
    help="Cadence: outreach cadences that stop the moment a prospect replies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
prospects_app = typer.Typer(help="Prospects: import from CSV.", no_args_is_help=True)
app.add_typer(prospects_app, name="prospects")
app.add_typer(templates_app, name="templates")
app.add_typer(cadences_app, name="cadences")
app.add_typer(users_app, name="users")
app.add_typer(mailboxes_app, name="mailboxes")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
OwnerOption = Annotated[str | None, typer.Option("--owner", help="SDR who owns the prospects.")]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ManualEvent(StrEnum):
    reply = "reply"
    bounce = "bounce"
    unsubscribe = "unsubscribe"
    meeting = "meeting"


@app.command()
def init() -> None:
    """Create or migrate the store and load config/ and templates/ (safe to repeat)."""
    with app_context(require_store=False) as ctx:
        added = init_store(ctx)
        catalog = ctx.catalog
        err_console.print(
            f"store ready ({ctx.engine.url.render_as_string(hide_password=True)}): "
            f"{len(catalog.cadences)} cadences, {len(catalog.templates)} templates "
            f"({added} new template versions), {len(catalog.personas)} personas"
        )


@prospects_app.command("import")
def prospects_import(
    file: Annotated[Path, typer.Argument(help="CSV with an email column.")],
    owner: OwnerOption = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows even if some fail.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import prospects; idempotent by email. With any invalid row nothing is imported."""
    with app_context() as ctx:
        report = import_prospects(
            ctx, file, owner=owner, actor=cli_actor(), skip_invalid=skip_invalid
        )
    written = not report.rejected or skip_invalid
    if as_json:
        print_json(
            {
                "file": str(file),
                "written": written,
                "imported": len(report.imported),
                "updated": len(report.updated),
                "unchanged": len(report.unchanged),
                "rejected": [
                    {"line": r.line, "email": r.email, "reason": r.reason} for r in report.rejected
                ],
                "rows": report.rows(),
            }
        )
    else:
        for row in report.rejected:
            err_console.print(
                f"{file}:{row.line}: {row.email or '-'}: {row.reason}",
                highlight=False,
                markup=False,
            )
        err_console.print(
            f"imported {len(report.imported)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)}, rejected {len(report.rejected)}"
            + ("" if written else " — nothing written; fix the rows above or pass --skip-invalid")
        )
    if report.rejected and not skip_invalid:
        raise typer.Exit(1)


@app.command()
def enroll(
    cadence: Annotated[str, typer.Argument(help="Cadence name, e.g. seven-touch.")],
    email: Annotated[list[str] | None, typer.Option("--email", help="Repeatable.")] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="CSV with an email column.")
    ] = None,
    owner: OwnerOption = None,
    allow_replied: Annotated[
        bool, typer.Option("--allow-replied", help="Enroll prospects who replied before.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Enroll prospects. Those already in the cadence are reported, never enrolled twice;
    any other problem enrolls nobody. Exit 1 when nobody new was enrolled."""
    emails = list(email or [])
    if csv_file is not None:
        with handle_errors():
            emails.extend(_emails_from_csv(csv_file))
    if not emails:
        raise typer.BadParameter("give --email (repeatable) or --csv FILE")
    with app_context() as ctx:
        result = enroll_prospects(
            ctx, emails, cadence, owner=owner, actor=cli_actor(), allow_replied=allow_replied
        )
    if as_json:
        print_json(
            {
                "cadence": result.cadence,
                "enrolled": list(result.enrolled),
                "already_active": list(result.already_active),
            }
        )
    else:
        for email_address in result.already_active:
            err_console.print(
                f"{email_address}: already active in {result.cadence}; not enrolled twice",
                markup=False,
                highlight=False,
            )
        err_console.print(f"enrolled {len(result.enrolled)} prospects in {result.cadence}")
    if not result.enrolled:
        raise typer.Exit(1)


def _emails_from_csv(path: Path) -> list[str]:
    from cadence.sequences.prospect_import import read_csv_text

    reader = csv.DictReader(read_csv_text(path).splitlines())
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise InputError(f"{path}:1: no 'email' column")
    column = (reader.fieldnames or [])[fields.index("email")]
    return [row[column] for row in reader if row.get(column)]


@app.command()
def run(
    simulate: Annotated[
        bool, typer.Option(help="Drive a simulated clock instead of real time.")
    ] = False,
    until: Annotated[str | None, typer.Option(help="With --simulate: stop at this time.")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="With --simulate: start here.")
    ] = None,
) -> None:
    """Scheduler and workers in one process (embedded broker, or Redis when configured)."""
    from workers.embedded import EmbeddedEngine

    if simulate and until is None:
        raise typer.BadParameter("--simulate needs --until ISO_DATETIME", param_hint="--until")
    if not simulate and (until or start):
        raise typer.BadParameter("--until and --from go with --simulate")
    if not simulate:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
        with app_context() as ctx, EmbeddedEngine(ctx) as engine:
            err_console.print("running scheduler and workers; Ctrl-C or SIGTERM to stop")
            try:
                engine.run_forever(ctx.settings.scheduler_interval_seconds, stop)
            except KeyboardInterrupt:
                pass
            err_console.print("stopping: finishing the touches already claimed")
            engine.drain()
        return
    begin = parse_instant(start, "--from") or datetime.now(UTC)
    end = parse_instant(until, "--until")
    assert end is not None
    if end < begin:
        raise typer.BadParameter("--until is before the start", param_hint="--until")
    clock = SimulatedClock(begin)
    # Simulated time must never reach real prospects: the in-process broker (production
    # workers on a shared Redis would pick the messages up) and the file outbox, always.
    with app_context(clock, simulation=True) as ctx, EmbeddedEngine(ctx) as engine:
        total = engine.simulate(clock, end)
    err_console.print(f"simulated {begin.isoformat()} → {end.isoformat()}: {total} touches run")


@app.command()
def scheduler() -> None:
    """The scheduler process alone (Procfile): claims due touches and enqueues them on Redis."""
    from workers.embedded import run_scheduler

    with app_context() as ctx:
        if not ctx.settings.redis_url:
            raise InputError("the scheduler process needs CADENCE_REDIS_URL; use `cadence run`")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
        run_scheduler(ctx, stop)


@app.command()
def event(
    kind: Annotated[ManualEvent, typer.Argument(help="What happened.")],
    email: Annotated[str, typer.Argument(help="The prospect's email.")],
    at: Annotated[str | None, typer.Option("--at", help="When it happened (ISO 8601).")] = None,
) -> None:
    """Record an event by hand, with the same effects as an inbound one."""
    occurred = parse_instant(at, "--at")
    with app_context() as ctx:
        outcome = record_by_hand(
            ctx, EventKind(kind.value), email, occurred_at=occurred, actor=cli_actor()
        )
    err_console.print(
        f"{kind.value} recorded for {outcome.prospect}: halted {len(outcome.halted)}, "
        f"paused {len(outcome.paused)} enrollments"
        + (", address suppressed" if outcome.suppressed else "")
    )


def _manual(kind: EventKind, email: str, cadence: str | None, reason: str | None) -> None:
    with app_context() as ctx:
        outcome = record_by_hand(
            ctx, kind, email, actor=cli_actor(), cadence=cadence, reason=reason
        )
    changed = outcome.halted or outcome.paused or outcome.resumed
    err_console.print(f"{kind.value}: {len(changed)} enrollments of {outcome.prospect}")


CadenceOption = Annotated[str | None, typer.Option("--cadence", help="Only this cadence.")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why, for the audit trail.")]
EmailArgument = Annotated[str, typer.Argument(help="The prospect's email.")]


@app.command()
def pause(email: EmailArgument, cadence: CadenceOption = None, reason: ReasonOption = None) -> None:
    """Pause a prospect's active enrollments."""
    _manual(EventKind.PAUSE, email, cadence, reason)


@app.command()
def resume(
    email: EmailArgument, cadence: CadenceOption = None, reason: ReasonOption = None
) -> None:
    """Resume paused enrollments; the next touch moves to the next open slot."""
    _manual(EventKind.RESUME, email, cadence, reason)


@app.command()
def halt(email: EmailArgument, cadence: CadenceOption = None, reason: ReasonOption = None) -> None:
    """Halt enrollments for good; nothing more is sent in them."""
    _manual(EventKind.HALT, email, cadence, reason)


@app.command()
def audit(
    email: Annotated[str | None, typer.Option("--email")] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    cadence: Annotated[str | None, typer.Option("--cadence")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    events: Annotated[bool, typer.Option("--events", help="Also list events.")] = False,
) -> None:
    """Touch history, one row per touch (and with --events, per event)."""
    after = parse_instant(since, "--since")
    with app_context() as ctx:
        rows = touch_rows(ctx.engine, email=email, owner=owner, cadence=cadence, since=after)
        if fmt is OutputFormat.csv:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(AUDIT_FIELDS))
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
            return
        touches = list(rows)
        with transaction(ctx.engine) as session:
            event_list = list(event_rows(session, email=email, since=after)) if events else []
    if fmt is OutputFormat.json:
        print_json({"touches": touches, "events": event_list} if events else touches)
        return
    table = Table(title="Touches", show_lines=False)
    for column in (
        "prospect",
        "cadence",
        "step",
        "channel",
        "template",
        "status",
        "due_at",
        "sent_at",
        "reason",
    ):
        table.add_column(column, overflow="fold")
    for row in touches:
        table.add_row(
            *(
                str(row[c]) if row[c] is not None else ""
                for c in (
                    "prospect",
                    "cadence",
                    "step",
                    "channel",
                    "template",
                    "status",
                    "due_at",
                    "sent_at",
                    "reason",
                )
            )
        )
    out_console.print(table)
    if events:
        etable = Table(title="Events")
        for column in ("prospect", "kind", "source", "occurred_at", "recorded_at", "actor"):
            etable.add_column(column)
        for ev in event_list:
            etable.add_row(
                *(
                    str(ev[c] or "")
                    for c in ("prospect", "kind", "source", "occurred_at", "recorded_at", "actor")
                )
            )
        out_console.print(etable)


@app.command()
def demo(
    prospects: Annotated[int, typer.Option("--prospects", min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    as_json: JsonFlag = False,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", help="Folder to create (default: a new temp dir).")
    ] = None,
) -> None:
    """The whole engine in one process on a simulated clock, in a fresh workspace."""
    from cadence.demo.run import run_demo

    with handle_errors():
        summary = run_demo(prospects=prospects, seed=seed, workspace=workspace, quiet=as_json)
    if as_json:
        print_json(summary)


def main() -> None:
    app()


tasks_app = typer.Typer(help="The SDR's call and LinkedIn tasks.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("list")
def tasks_list(
    owner: OwnerOption = None,
    done: Annotated[bool, typer.Option("--all", help="Include done tasks.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Open tasks, oldest due first."""
    from cadence.sequences.tasks import list_tasks

    with app_context() as ctx, transaction(ctx.engine) as session:
        tasks = list_tasks(session, owner=owner, include_done=done)
    if as_json:
        print_json([t.__dict__ for t in tasks])
        return
    table = Table(title=f"Tasks{f' for {owner}' if owner else ''}")
    for column in ("id", "due (UTC)", "owner", "channel", "prospect", "company", "step", "status"):
        table.add_column(column)
    for t in tasks:
        table.add_row(
            str(t.id),
            f"{t.due_at:%Y-%m-%d %H:%M}",
            t.owner,
            t.channel,
            t.prospect,
            t.company,
            f"{t.cadence} {t.step}",
            t.outcome or t.status,
        )
    out_console.print(table)


class Outcome(StrEnum):
    connected = "connected"
    voicemail = "voicemail"
    no_answer = "no_answer"
    skipped = "skipped"


@tasks_app.command("done")
def tasks_done(
    task_ids: Annotated[
        list[int], typer.Argument(help="Task ids from `cadence tasks list`, one or more.")
    ],
    outcome: Annotated[Outcome, typer.Option("--outcome")],
) -> None:
    """Close tasks with the same outcome: all of them, or none if one is unknown or done."""
    from cadence.core.domain import TaskOutcome
    from cadence.sequences.tasks import complete_tasks

    ids = list(dict.fromkeys(task_ids))
    with app_context() as ctx, transaction(ctx.engine) as session:
        complete_tasks(
            session,
            dict.fromkeys(ids, TaskOutcome(outcome.value)),
            now=ctx.clock.now(),
            actor=cli_actor(),
        )
    for task_id in ids:
        err_console.print(f"task {task_id}: {outcome.value}")


@app.command()
def inbound(
    files: Annotated[list[Path], typer.Argument(help="Raw RFC 822 messages (.eml).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Classify only; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per file.")] = False,
) -> None:
    """Classify inbound mail (reply, auto-reply, bounce, complaint, unsubscribe) and apply it."""
    import json

    from cadence.inbound.processing import MAX_MESSAGE_BYTES, process_inbound

    unreadable = 0
    table = Table(title="Inbound" + (" (dry run: nothing changed)" if dry_run else ""))
    for column in ("file", "kind", "bounce", "prospect", "return", "effect"):
        table.add_column(column, overflow="fold")
    with app_context() as ctx:
        for path in files:
            try:
                if path.stat().st_size > MAX_MESSAGE_BYTES:
                    raise InputError(f"{path}: larger than {MAX_MESSAGE_BYTES} bytes; not read")
                raw = path.read_bytes()
            except (OSError, InputError) as exc:
                unreadable += 1
                err_console.print(f"error: {path}: {exc}", markup=False, highlight=False)
                continue
            result = process_inbound(ctx, raw, label=str(path), dry_run=dry_run)
            if as_json:
                sys.stdout.write(json.dumps(result.contract_json(), ensure_ascii=False) + "\n")
                continue
            effect = ", ".join(f"{k} {len(v)}" for k, v in result.effects.items() if v)
            if result.duplicate:
                effect = "already recorded"
            table.add_row(
                str(path),
                result.kind,
                result.bounce or "",
                result.prospect or "(unmatched)",
                result.return_date or "",
                effect or "-",
            )
    if not as_json:
        out_console.print(table)
    if unreadable:
        raise typer.Exit(1)


class ReportFormat(StrEnum):
    table = "table"
    json = "json"


@app.command()
def report(
    since: Annotated[
        str | None, typer.Option("--since", help="Enrolled at or after (ISO).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Enrolled before (ISO).")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.table,
) -> None:
    """Per cadence, step, template version and owner: replies, rates, speed to lead."""
    from cadence.reports.queries import report as build

    start, end = parse_instant(since, "--since"), parse_instant(until, "--until")
    with app_context() as ctx, transaction(ctx.engine) as session:
        result = build(session, since=start, until=end)
    if fmt is ReportFormat.json:
        print_json(result)
        return
    sections = (
        (
            "Cadences",
            result["cadences"],
            (
                "cadence",
                "enrolled",
                "touches",
                "replies",
                "reply_rate",
                "bounces",
                "unsubscribes",
                "median_hours_to_first_touch",
                "reached_touch_7_share",
                "median_touches_before_reply",
            ),
        ),
        (
            "Steps",
            result["steps"],
            ("cadence", "step", "template", "sent", "replies", "reply_rate"),
        ),
        (
            "Template versions",
            result["templates"],
            ("template", "version", "sent", "replies", "reply_rate"),
        ),
        ("Owners", result["owners"], ("owner", "enrolled", "touches", "replies", "reply_rate")),
    )
    for title, rows, columns in sections:
        table = Table(title=title)
        for column in columns:
            table.add_column(column.replace("_", " "), overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row[c]) for c in columns))
        out_console.print(table)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1%}" if value <= 1 else f"{value:.1f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return "" if value is None else str(value)


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """Health: due backlog, oldest due touch, queue depth, sending and unconfirmed touches."""
    from redis.exceptions import RedisError

    from cadence.reports.status import broker_depth, store_health
    from workers.broker import TOUCH_QUEUE

    with app_context() as ctx:
        with transaction(ctx.engine) as session:
            health = store_health(session, now=ctx.clock.now())
        if ctx.settings.redis_url:
            try:
                health["broker"] = broker_depth(ctx.settings.redis_url, TOUCH_QUEUE)
            except (OSError, RedisError) as exc:  # an outage is what status must show
                health["broker"] = {"error": str(exc)}
        else:
            health["broker"] = "in-process (cadence run)"
    if as_json:
        print_json(health)
        return
    table = Table(title="Cadence status", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in (
        "due_backlog",
        "oldest_due_at",
        "queued",
        "oldest_queued_at",
        "sending",
        "unconfirmed",
        "failed",
        "overdue_tasks",
        "unhealthy_mailboxes",
        "broker",
    ):
        table.add_row(key.replace("_", " "), _cell(health[key]))
    out_console.print(table)
    if health["unconfirmed"]:
        err_console.print(
            f"{health['unconfirmed']} touches may or may not have been delivered: review them "
            "with `cadence audit --format json` (status unconfirmed)"
        )


touches_app = typer.Typer(help="Touches a person must look at.", no_args_is_help=True)
app.add_typer(touches_app, name="touches")


class Verdict(StrEnum):
    delivered = "delivered"
    not_delivered = "not-delivered"


@touches_app.command("resolve")
def touches_resolve(
    touch_id: Annotated[int, typer.Argument(help="An unconfirmed touch (see cadence audit).")],
    outcome: Annotated[Verdict, typer.Option("--outcome", help="What the mail logs say.")],
) -> None:
    """Settle an unconfirmed touch: delivered moves the cadence on, not-delivered re-sends."""
    from cadence.delivery.unconfirmed import resolve_unconfirmed

    with app_context() as ctx, transaction(ctx.engine) as session:
        touch = resolve_unconfirmed(
            session,
            ctx.catalog,
            touch_id,
            delivered=outcome is Verdict.delivered,
            now=ctx.clock.now(),
            actor=cli_actor(),
        )
    err_console.print(f"touch {touch_id}: {touch.status}")
