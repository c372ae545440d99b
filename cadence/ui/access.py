"""Who may see the pages: a live session (found by :mod:`cadence.web.gate`) of a manager or
an admin; without one, a redirect to sign-in. Cadence's input errors become an error page."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from cadence.core.errors import InputError, NotFoundError
from cadence.store.api_users import Role
from cadence.ui.rendering import render
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
