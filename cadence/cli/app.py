"""The ``cadence`` command: the command tree, one module per command group.

The commands are registered here, in the order ``--help`` lists them, so the tree is read in one
place; each module holds its commands and what only they use.
"""

import typer

from cadence.cli import audit, engine, enrollment, inbound, operations, report, status
from cadence.cli.authoring import cadences_app, templates_app
from cadence.cli.mailbox_resume import register_resume
from cadence.cli.mailboxes import mailboxes_app
from cadence.cli.operations import touches_app
from cadence.cli.prospects import prospects_app
from cadence.cli.tasks import tasks_app
from cadence.cli.users import users_app

app = typer.Typer(
    help="Cadence: outreach cadences that stop the moment a prospect replies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for command in (
    operations.init,
    enrollment.enroll,
    engine.run,
    engine.scheduler,
    enrollment.event,
    enrollment.pause,
    enrollment.resume,
    enrollment.halt,
    audit.audit,
    engine.demo,
    inbound.inbound,
    report.report,
    status.status,
):
    app.command()(command)

app.add_typer(prospects_app, name="prospects")
app.add_typer(templates_app, name="templates")
app.add_typer(cadences_app, name="cadences")
app.add_typer(users_app, name="users")
app.add_typer(tasks_app, name="tasks")
app.add_typer(touches_app, name="touches")
app.add_typer(mailboxes_app, name="mailboxes")
register_resume(mailboxes_app)


def main() -> None:
    app()
