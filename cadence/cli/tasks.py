"""``cadence tasks list`` and ``cadence tasks done``: the SDR's call and LinkedIn tasks."""

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from cadence.cli.console import err_console, out_console, print_json
from cadence.cli.context import app_context, cli_actor
from cadence.cli.options import JsonFlag, OwnerOption
from cadence.store.database import transaction

tasks_app = typer.Typer(help="The SDR's call and LinkedIn tasks.", no_args_is_help=True)


class Outcome(StrEnum):
    connected = "connected"
    voicemail = "voicemail"
    no_answer = "no_answer"
    skipped = "skipped"


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
