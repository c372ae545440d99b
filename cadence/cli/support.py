"""Small pieces the CLI commands share: building the context, parsing times, printing."""

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from cadence.core.clock import Clock
from cadence.core.errors import CadenceError, ConfigurationError
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.settings import load_settings
from cadence.store.database import schema_is_current

#: Human output goes to stderr when stdout carries JSON, so scripts read clean documents.
err_console = Console(stderr=True)
out_console = Console()


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def parse_instant(text: str | None, option: str) -> datetime | None:
    """ISO 8601; a time without a zone is taken as UTC (and said so in --help)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 date-time such as 2026-12-01T09:00:00Z",
            param_hint=option,
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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


@contextmanager
def handle_errors() -> Iterator[None]:
    """Errors Cadence raises on purpose print as one plain message and exit 1."""
    try:
        yield
    except CadenceError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
        raise typer.Exit(1) from exc


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")
