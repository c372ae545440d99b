"""``cadence mailboxes``: each SDR mailbox's health, a connection check, and the process that
reads their replies."""

import logging
import signal
import threading
from typing import Annotated

import typer
from rich.table import Table

from cadence.cli.console import err_console, out_console, print_json
from cadence.cli.context import app_context, cli_actor
from cadence.cli.options import JsonFlag
from cadence.inbound.mailboxes import (
    MailboxPass,
    process_holder,
    sdr_mailboxes,
    sync_once,
    watch_mailboxes,
)
from cadence.inbound.mailboxes.checks import check_mailbox
from cadence.reports.mailboxes import mailbox_overview
from cadence.store.database import transaction

mailboxes_app = typer.Typer(
    help="SDR mailboxes: their health, a connection check, and reading their replies.",
    no_args_is_help=True,
)

NamesArgument = Annotated[
    list[str] | None, typer.Argument(help="SDR names (config/team.toml); all when left out.")
]


@mailboxes_app.command("list")
def list_mailboxes(
    as_json: JsonFlag = False,
) -> None:
    """Each SDR mailbox: name, address, health (ok, or why not), last sync, sends today."""
    with app_context() as ctx, transaction(ctx.engine) as session:
        rows = mailbox_overview(session, ctx.catalog.team, now=ctx.clock.now())
    if as_json:
        print_json(rows)
        return
    if not rows:
        err_console.print("no SDR has a [sdr.mailbox] in config/team.toml", markup=False)
        return
    table = Table(title="SDR mailboxes")
    for column in ("name", "address", "health", "last sync (UTC)", "sends today"):
        table.add_column(column)
    for row in rows:
        health = row["health"] + (f": {row['reason']}" if row["reason"] else "")
        table.add_row(
            row["name"],
            row["address"],
            health,
            row["last_sync"] or "never",
            str(row["sends_today"]),
        )
    out_console.print(table)


@mailboxes_app.command()
def check(names: NamesArgument = None) -> None:
    """Sign in to each mailbox's IMAP and SMTP server now; exit 1 when any fails."""
    with app_context() as ctx:
        mailboxes = sdr_mailboxes(ctx.catalog.team, names or ())
        results = [check_mailbox(ctx, sdr, actor=cli_actor()) for sdr in mailboxes]
    if not results:
        err_console.print("no SDR has a [sdr.mailbox] in config/team.toml", markup=False)
    for result in results:
        for passed in result.passed:
            out_console.print(
                f"{result.owner}: {passed} ok", highlight=False, soft_wrap=True, markup=False
            )
        for problem in result.problems:
            out_console.print(
                f"{result.owner}: {problem}",
                style="red",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    if not all(result.ok for result in results):
        raise typer.Exit(1)


@mailboxes_app.command()
def sync(
    names: NamesArgument = None,
    once: Annotated[
        bool, typer.Option("--once", help="One pass over every folder, then exit.")
    ] = False,
) -> None:
    """Read new mail from each mailbox's folders into the inbound path.

    Without --once, keep watching (IMAP IDLE or polling) until SIGTERM or Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with app_context() as ctx:
        mailboxes = sdr_mailboxes(ctx.catalog.team, names or (), imap_only=True)
        holder = process_holder()
        if once:
            passes = sync_once(ctx, mailboxes, holder=holder)
            for done in passes:
                out_console.print(_summary(done), highlight=False, soft_wrap=True, markup=False)
            if any(done.error for done in passes):
                raise typer.Exit(1)
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _signum, _frame: stop.set())
        if not mailboxes:
            err_console.print("no SDR mailbox with an imap URL: nothing to read until stopped")
        else:
            names_read = ", ".join(m.owner for m in mailboxes)
            err_console.print(f"reading mailboxes {names_read}; SIGTERM or Ctrl-C to stop")
        watch_mailboxes(ctx, mailboxes, holder=holder, stop=stop)
        err_console.print("stopped; leases given up")


def _summary(done: MailboxPass) -> str:
    if done.held_by:
        return f"{done.owner}: read by another process ({done.held_by}), left to it"
    if done.error:
        return f"{done.owner}: not read: {done.error}"
    parts = []
    for folder in done.folders:
        counts = (
            ", ".join(f"{n} {kind}" for kind, n in sorted(folder.intake.items())) or "nothing new"
        )
        extra = (
            f", {folder.truncated} read as headers only (over the size cap)"
            if folder.truncated
            else ""
        )
        parts.append(f"{folder.folder}: {counts}{extra}")
    parts += [f"{name}: not read ({why})" for name, why in done.folder_errors.items()]
    return f"{done.owner}: " + "; ".join(parts)
