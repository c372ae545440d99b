"""The managers' pages under ``/ui``: server-rendered HTML, no script, no build step.

Sign-in trades an API token for a server-side session: the HttpOnly, SameSite=Strict cookie
holds a random id of its own, and sign-out deletes the session, so a copied cookie dies with
it. The cookie is Secure unless ``CADENCE_SECURE_COOKIES`` is false, whatever scheme the
process sees (behind a TLS proxy it sees http). The gate (:mod:`cadence.web.gate`) refuses
form POSTs from other origins, sign-in included, and pages without a session; every other
page is defined in :mod:`cadence.ui.pages`.
"""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from cadence.store.api_users import user_for_token
from cadence.store.database import transaction
from cadence.store.page_sessions import close_session, open_session
from cadence.ui.access import PageRoute
from cadence.ui.pages import pages_router
from cadence.ui.rendering import render
from cadence.web.deps import context
from cadence.web.security import SESSION_COOKIE

ui_router = APIRouter(include_in_schema=False, route_class=PageRoute)


@ui_router.get("/signin", response_class=HTMLResponse)
def signin_form() -> str:
    return render("signin.html", title="Sign in", error=None, who=None)


@ui_router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, token: Annotated[str, Form(max_length=300)]) -> Response:
    """A new session for a valid token; any session the browser held is revoked first, so
    a session id planted before sign-in is never the one signed in."""
    ctx = context(request)
    lifetime = timedelta(hours=ctx.settings.session_hours)
    with transaction(ctx.engine) as session:
        close_session(session, request.cookies.get(SESSION_COOKIE))
        user = user_for_token(session, token.strip())
        session_id = (
            open_session(session, user.id, now=ctx.clock.now(), lifetime=lifetime)
            if user is not None and user.id is not None
            else None
        )
    if session_id is None:
        page = render("signin.html", title="Sign in", error="That token is not valid.", who=None)
        return HTMLResponse(page, status_code=401)
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=ctx.settings.secure_cookies,
        path="/ui",
        max_age=int(lifetime.total_seconds()),
    )
    return response


@ui_router.post("/signout")
def signout(request: Request) -> Response:
    """Revoke the session in the store, then drop the cookie."""
    ctx = context(request)
    with transaction(ctx.engine) as session:
        close_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/ui/signin", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/ui", secure=ctx.settings.secure_cookies, httponly=True
    )
    return response


ui_router.include_router(pages_router)
