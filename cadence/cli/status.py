"""``cadence status``: what an operator checks first, as a table or JSON."""

from rich.table import Table

from cadence.cli.console import err_console, out_console, print_json, table_cell
from cadence.cli.context import app_context
from cadence.cli.options import JsonFlag
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
