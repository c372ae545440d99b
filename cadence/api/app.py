"""The web process (Procfile ``web``): the JSON API, signed inbound webhooks, one-click
unsubscribe and the managers' pages, each in its own router module."""

from fastapi import FastAPI

from cadence.api.routes.inbound import inbound_router
from cadence.api.routes.unsubscribe import unsubscribe_router
from cadence.api.v1 import v1_router
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.settings import load_settings
from cadence.ui.router import ui_router


def create_app(ctx: AppContext | None = None) -> FastAPI:
    """Build the app; ``ctx`` defaults to one built from the environment.

    Routers read the context from ``app.state.ctx`` (see :func:`cadence.web.deps.context`).
    """
    # No /docs or /redoc: they load scripts from a CDN; /openapi.json stays (no data in it).
    app = FastAPI(title="Cadence", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.ctx = ctx or build_context(load_settings())

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(unsubscribe_router)
    app.include_router(inbound_router, prefix="/api/v1/inbound")
    app.include_router(v1_router, prefix="/api/v1")
    app.include_router(ui_router, prefix="/ui")
    return app
