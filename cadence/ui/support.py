"""What every ``/ui`` page shares: the signed-in manager, rendering and error pages.

Pages are rendered by a plain Jinja environment with autoescape on (not marketing's sandbox:
these templates are ours, the data in them is not); every response carries the web
process's security headers (:mod:`cadence.web.headers`), whose policy allows no script.
"""

from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined

from cadence.core.errors import InputError, NotFoundError
from cadence.core.geography import time_zone
from cadence.store.api_users import Role
from cadence.web.params import as_utc
from cadence.web.security import Principal, caller

PAGE_ROLES = (Role.MANAGER, Role.ADMIN)


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in form."""


class PageRoute(APIRoute):
    """A missing session redirects to sign-in, and Cadence's input errors become a
    readable error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = RedirectResponse("/ui/signin", status_code=303)
            except InputError as exc:
                status = 404 if isinstance(exc, NotFoundError) else 422
                response = HTMLResponse(
                    render(
                        "error.html",
                        title="Not found" if status == 404 else "Bad request",
                        message=str(exc),
                        who=None,
                    ),
                    status_code=status,
                )
            return response

        return handle


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("cadence.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _utc
    env.filters["local"] = _local
    env.filters["pct"] = lambda value: f"{100 * float(value):.1f}%"
    return env


def render(name: str, **values: Any) -> str:
    return _environment().get_template(name).render(**values)


def _utc(value: datetime | None) -> str:
    return value.strftime("%a %d %b %Y %H:%M UTC") if value else ""


def _local(value: datetime | None, zone: str) -> str:
    """The prospect's wall-clock time: send windows are in it, so that is what to read."""
    if value is None:
        return ""
    try:
        return value.astimezone(time_zone(zone)).strftime("%a %d %b %H:%M %Z")
    except (KeyError, ValueError):
        return ""


def page_principal(request: Request) -> Principal:
    """The session's user, found by the gate (:mod:`cadence.web.gate`)."""
    principal = caller(request)
    if principal is None:
        raise SignInRequired
    return principal


def manager(principal: Annotated[Principal, Depends(page_principal)]) -> Principal:
    if principal.role not in PAGE_ROLES:
        raise NotFoundError("these pages are for managers; SDRs use the API or the CLI")
    return principal


Manager = Annotated[Principal, Depends(manager)]


def parse_range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """The pages' date pickers send ``YYYY-MM-DD`` (UTC days); empty means open-ended."""
    bounds: list[datetime | None] = []
    for label, text in (("since", since), ("until", until)):
        if not text:
            bounds.append(None)
            continue
        try:
            bounds.append(as_utc(datetime.fromisoformat(text)))
        except ValueError as exc:
            raise InputError(f"{label}: {text!r} is not a date like 2026-03-02") from exc
    return bounds[0], bounds[1]
