"""The application context a command runs in, and who the audit trail says acted."""

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

from cadence.cli.console import err_console, handle_errors
from cadence.core.clock import Clock
from cadence.core.errors import ConfigurationError
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.settings import load_settings
from cadence.store.database import schema_is_current


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def app_context(
    clock: Clock | None = None, *, require_store: bool = True, simulation: bool = False
) -> Iterator[AppContext]:
    """Build the context from settings, turning load errors into a clean exit.

    Every command but ``init`` needs a store at the current schema, and says so plainly.
    ``simulation`` forces the in-process broker and the file outbox, and refuses a store
    that is not SQLite: simulated sends must never reach real prospects or production data.
    """
    with handle_errors():
        settings = load_settings()
        if simulation:
            if not settings.database_url.startswith("sqlite"):
                raise ConfigurationError(
                    "--simulate marks touches as sent at simulated times; run it on a SQLite "
                    "workspace (CADENCE_DATABASE_URL=sqlite:///…), never a production store"
                )
            if settings.smtp_url or settings.redis_url:
                err_console.print(
                    "simulation: ignoring CADENCE_SMTP_URL and CADENCE_REDIS_URL; emails go "
                    f"to the outbox folder {settings.outbox_dir}"
                )
            settings = settings.model_copy(update={"smtp_url": None, "redis_url": None})
        ctx = build_context(settings, clock=clock)
        if require_store and not schema_is_current(ctx.engine):
            url = ctx.engine.url.render_as_string(hide_password=True)
            ctx.close()
            raise ConfigurationError(
                f"the store at {url} is not set up for this version; run `cadence init`"
            )
    try:
        with handle_errors():
            yield ctx
    finally:
        ctx.close()
