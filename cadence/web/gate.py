"""Who may send a body at all, decided from the headers before any of it is read.

FastAPI reads and parses a request's body before it runs any dependency, so a token checked
in a dependency comes after an unauthenticated client has made us buffer and parse whatever
it sent. This pure ASGI middleware answers first: ``/api/v1`` (but the signed webhooks,
which authenticate their own bodies) needs a valid bearer token, and ``/ui`` needs a live
session (but the sign-in form) and, for every form POST including sign-in, our own
``Origin``. A refused request's body is never received; the connection is closed after the
answer so the client cannot keep streaming it.

The principal found is left in the request's state for :func:`cadence.web.security.caller`.
"""

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cadence.runtime.context import AppContext
from cadence.web.origins import same_origin
from cadence.web.security import (
    PRINCIPAL_KEY,
    SESSION_COOKIE,
    UNAUTHORIZED,
    Principal,
    principal_for_session,
    principal_for_token,
)

API = "/api/v1/"
WEBHOOKS = "/api/v1/inbound/"
PAGES = "/ui"
SIGN_IN = "/ui/signin"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AccessGate:
    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            principal_or_refusal = await self._admit(scope, Headers(scope=scope))
            if isinstance(principal_or_refusal, Response):
                await principal_or_refusal(scope, receive, send)
                return
            if principal_or_refusal is not None:
                scope.setdefault("state", {})[PRINCIPAL_KEY] = principal_or_refusal
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, headers: Headers) -> Principal | Response | None:
        path = _route_path(scope)
        if path.startswith(API) and not path.startswith(WEBHOOKS):
            token = _bearer(headers.get("authorization"))
            principal = await run_in_threadpool(principal_for_token, self.ctx, token)
            return principal or _refuse(headers, 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
        if path != PAGES and not path.startswith(PAGES + "/"):
            return None
        if scope["method"] not in _SAFE_METHODS and not same_origin(
            headers, scheme=scope["scheme"], public_url=self.ctx.settings.public_url
        ):
            return _refuse(headers, 403, "a form posted from another site is refused")
        if path == SIGN_IN:
            return None
        session_id = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        principal = await run_in_threadpool(principal_for_session, self.ctx, session_id)
        return principal or RedirectResponse(SIGN_IN, status_code=303, headers=closing(headers))


def _route_path(scope: Scope) -> str:
    """The path the routes match, without the prefix a proxy mounts us under
    (``--root-path``): ASGI servers put it in ``path`` too."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _refuse(
    headers: Headers, status: int, detail: str, extra: dict[str, str] | None = None
) -> Response:
    """JSON for the API, a short page for the pages; same words as the routes' own."""
    more = {**(extra or {}), **closing(headers)}
    if status == 403:
        return HTMLResponse(f"<!doctype html><title>Refused</title><p>{detail}.</p>", 403, more)
    return JSONResponse({"detail": detail}, status_code=status, headers=more)


def closing(headers: Headers) -> dict[str, str]:
    """Close the connection after refusing a request that carries a body: the body is left
    unread, and the server would otherwise read the rest of it to reach the next request."""
    has_body = "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
    return {"Connection": "close"} if has_body else {}
