"""The web process (Procfile ``web``): the JSON API, signed inbound webhooks, one-click
unsubscribe and the managers' pages, each in its own router module.

Around the routes, outermost first: the security headers on every response
(:mod:`cadence.web.headers`), the gate that refuses a caller without a token or session
before any body is read (:mod:`cadence.web.gate`), and the body limits (FastAPI's, which
count the bytes as they arrive whatever ``Content-Length`` says, and answer 413).
"""

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp

from cadence.api.routes.inbound import inbound_router
from cadence.api.routes.unsubscribe import unsubscribe_router
from cadence.api.v1 import v1_router
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.settings import load_settings
from cadence.ui.router import ui_router
from cadence.web.errors import validation_failed
from cadence.web.gate import AccessGate
from cadence.web.headers import SecurityHeaders


class CadenceApp(FastAPI):
    """FastAPI with the gate and the security headers outside its whole stack: the gate
    answers before the body limit can look at the body, and the answers FastAPI's outer
    layers make themselves (a 500, a 413) carry the headers too."""

    def build_middleware_stack(self) -> ASGIApp:
        ctx: AppContext = self.state.ctx
        return SecurityHeaders(AccessGate(super().build_middleware_stack(), ctx))


def create_app(ctx: AppContext | None = None) -> FastAPI:
    """Build the app; ``ctx`` defaults to one built from the environment.

    Routers read the context from ``app.state.ctx`` (see :func:`cadence.web.deps.context`).
    """
    ctx = ctx or build_context(load_settings())
    settings = ctx.settings
    # No /docs or /redoc: they load scripts from a CDN; /openapi.json stays (no data in it).
    app = CadenceApp(
        title="Cadence",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        max_body_size=settings.max_body_bytes,
    )
    app.state.ctx = ctx
    app.add_exception_handler(RequestValidationError, validation_failed)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(unsubscribe_router)
    app.include_router(
        inbound_router, prefix="/api/v1/inbound", max_body_size=settings.inbound_max_body_bytes
    )
    app.include_router(v1_router, prefix="/api/v1")
    app.include_router(ui_router, prefix="/ui")
    return app
