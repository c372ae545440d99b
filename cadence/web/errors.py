"""Cadence's error tree as HTTP statuses, for the routers that use :class:`CadenceRoute`.

Mapped per route rather than with app-wide exception handlers so that each router states
its own contract and the webhooks keep theirs.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


async def validation_failed(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, but each error's ``input`` echo is left out when it cannot be sent
    back as JSON text: a body of ``NaN`` or ``Infinity``, bytes that are not UTF-8, or a
    lone surrogate parse, fail validation, and the stock handler then fails to encode them
    and answers 500."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": [_echo(e) for e in exc.errors()]})


def _echo(error: Any) -> Any:
    try:
        encoded = jsonable_encoder(error)
        json.dumps(encoded, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        safe = {key: value for key, value in error.items() if key not in ("input", "ctx")}
        return jsonable_encoder(safe)
    return encoded
