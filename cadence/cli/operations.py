"""What an operator runs to set up and settle: ``init`` and ``touches resolve``."""

from enum import StrEnum
from typing import Annotated

import typer

from cadence.cli.console import err_console
from cadence.cli.context import app_context, cli_actor
from cadence.runtime.store_setup import init_store
from cadence.store.database import transaction

touches_app = typer.Typer(help="Touches a person must look at.", no_args_is_help=True)


class Resolution(StrEnum):
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


@touches_app.command("resolve")
def touches_resolve(
    touch_id: Annotated[int, typer.Argument(help="An unconfirmed touch (see cadence audit).")],
    outcome: Annotated[Resolution, typer.Option("--outcome", help="What the mail logs say.")],
) -> None:
    """Settle an unconfirmed touch: delivered moves the cadence on, not-delivered re-sends."""
    from cadence.delivery.unconfirmed import resolve_unconfirmed

    with app_context() as ctx, transaction(ctx.engine) as session:
        touch = resolve_unconfirmed(
            session,
            ctx.catalog,
            touch_id,
            delivered=outcome is Resolution.delivered,
            now=ctx.clock.now(),
            actor=cli_actor(),
        )
    err_console.print(f"touch {touch_id}: {touch.status}")
