"""``cadence mailboxes resume NAME``: a person's word that an SDR's mailbox may send again,
after the deliverability guard paused it or a login was refused (once the password is
fixed). Its held emails go out as they fall due; the guard counts afresh.

Registered on the ``mailboxes`` group: ``register_resume(mailboxes_app)``."""

from typing import Annotated

import typer

from cadence.cli.console import err_console
from cadence.cli.context import app_context, cli_actor
from cadence.sequences.mailbox_guard import guard_limits, resume_mailbox
from cadence.store.database import transaction


def resume(
    name: Annotated[str, typer.Argument(help="The SDR's name in config/team.toml.")],
) -> None:
    """Let NAME's mailbox send again, whatever stopped it (paused, refused login,
    unreachable); its held emails go out as they fall due."""
    with app_context() as ctx, transaction(ctx.engine) as session:
        resumed = resume_mailbox(
            session,
            ctx.catalog,
            name,
            now=ctx.clock.now(),
            actor=cli_actor(),
            limits=guard_limits(ctx.settings),
        )
    if resumed:
        err_console.print(f"{name}'s mailbox may send again")
    else:
        err_console.print(f"{name}'s mailbox was not stopped; nothing changed")


def register_resume(mailboxes_app: typer.Typer) -> None:
    mailboxes_app.command("resume")(resume)
