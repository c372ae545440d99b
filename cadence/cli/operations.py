"""What an operator runs: ``init``, ``status`` and ``touches resolve``."""

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from cadence.cli.console import err_console, out_console, print_json, table_cell
from cadence.cli.context import app_context, cli_actor
from cadence.cli.options import JsonFlag
from cadence.runtime.store_setup import init_store
from cadence.store.database import transaction

#: The rows of the status table, in the order an operator reads them.
STATUS_ROWS = (
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
)

touches_app = typer.Typer(help="Touches a person must look at.", no_args_is_help=True)


class Verdict(StrEnum):
    delivered = "delivered"
    not_delivered = "not-delivered"


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
    for key in STATUS_ROWS:
        table.add_row(key.replace("_", " "), table_cell(health[key]))
    out_console.print(table)
    if health["unconfirmed"]:
        err_console.print(
            f"{health['unconfirmed']} touches may or may not have been delivered: review them "
            "with `cadence audit --format json` (status unconfirmed)"
        )


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
