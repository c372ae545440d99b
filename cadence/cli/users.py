"""``cadence users add NAME --role …``: API users; the token is printed once."""

from enum import StrEnum
from typing import Annotated

import typer

from cadence.cli.console import err_console
from cadence.cli.context import app_context, cli_actor
from cadence.store.api_users import Role, add_user
from cadence.store.database import transaction

users_app = typer.Typer(help="API users and their tokens.", no_args_is_help=True)


class RoleChoice(StrEnum):
    sdr = "sdr"
    marketing = "marketing"
    manager = "manager"
    admin = "admin"


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="For an SDR: the owner name in config/team.toml.")],
    role: Annotated[RoleChoice, typer.Option("--role")],
) -> None:
    """Create a user and print its API token once (it is stored only as a hash)."""
    with app_context() as ctx, transaction(ctx.engine) as session:
        if role is RoleChoice.sdr:
            ctx.catalog.team.sender(name)
        token = add_user(session, name, Role(role.value), now=ctx.clock.now(), actor=cli_actor())
    err_console.print(f"user {name} ({role.value}) added; this token is shown once:")
    typer.echo(token)
