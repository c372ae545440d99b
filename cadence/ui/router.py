"""The managers' pages under ``/ui``: server-rendered HTML, no script, no build step.

Sign-in trades an API token for an HttpOnly, SameSite=Strict cookie holding it; every other
page needs that cookie (:mod:`cadence.ui.support`) and is defined in :mod:`cadence.ui.pages`.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from cadence.ui.pages import pages_router
from cadence.ui.support import PageRoute, render
from cadence.web.deps import context
from cadence.web.security import SESSION_COOKIE, principal_for_token

ui_router = APIRouter(include_in_schema=False, route_class=PageRoute)


@ui_router.get("/signin", response_class=HTMLResponse)
def signin_form() -> str:
    return render("signin.html", title="Sign in", error=None, who=None)


@ui_router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, token: Annotated[str, Form(max_length=300)]) -> Response:
    principal = principal_for_token(context(request), token.strip())
    if principal is None:
        page = render("signin.html", title="Sign in", error="That token is not valid.", who=None)
        return HTMLResponse(page, status_code=401)
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui",
        max_age=12 * 3600,
    )
    return response


@ui_router.post("/signout")
def signout() -> Response:
    response = RedirectResponse("/ui/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


ui_router.include_router(pages_router)
