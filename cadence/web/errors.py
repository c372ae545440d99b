"""Cadence's error tree as HTTP statuses, for the routers that use :class:`CadenceRoute`.

Mapped per route rather than with app-wide exception handlers so that each router states
its own contract and the webhooks keep theirs.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from cadence.core.errors import ConflictError, InputError, NotFoundError


def status_for(exc: InputError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    return 422


class CadenceRoute(APIRoute):
    """NotFoundError → 404, ConflictError → 409, any other InputError → 422, message kept."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except InputError as exc:
                raise HTTPException(status_code=status_for(exc), detail=str(exc)) from exc

        return handle


#: Documented on every ``/api/v1`` operation so clients (and schemathesis) know the shapes.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token, or a token that is unknown or disabled"},
    403: {"description": "The caller's role may not do this"},
    404: {"description": "No such record, or it belongs to another SDR"},
}
