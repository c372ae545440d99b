"""The web process (Procfile ``web``): health, and RFC 8058 one-click unsubscribe.

GET on an unsubscribe link only shows a confirmation page, because mail scanners follow
links; only a POST (the mail client's one-click, or the page's button) unsubscribes.
"""

import html
from datetime import datetime

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from cadence import services
from cadence.context import AppContext, build_context
from cadence.database import transaction
from cadence.domain import EventKind
from cadence.models import Prospect
from cadence.settings import load_settings


def create_app(ctx: AppContext | None = None) -> FastAPI:
    """Build the app; ``ctx`` defaults to one built from the environment."""
    context = ctx or build_context(load_settings())
    app = FastAPI(title="Cadence", version="0.1.0")

    def prospect_for(token: str) -> Prospect:
        if not 16 <= len(token) <= 64:
            raise HTTPException(status_code=404, detail="unknown unsubscribe link")
        with transaction(context.engine) as session:
            prospect = session.exec(
                select(Prospect).where(Prospect.unsubscribe_token == token)
            ).first()
        if prospect is None:
            raise HTTPException(status_code=404, detail="unknown unsubscribe link")
        return prospect

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "time": datetime.now().astimezone().isoformat()}

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def confirm_unsubscribe(token: str) -> str:
        prospect = prospect_for(token)
        company = html.escape(context.catalog.team.company.name)
        return _page(
            f"Unsubscribe {html.escape(prospect.email)} from {company}?",
            '<form method="post"><input type="hidden" name="List-Unsubscribe" '
            'value="One-Click"><button type="submit">Unsubscribe</button></form>',
        )

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str, request: Request) -> str:
        prospect = prospect_for(token)
        services.record(
            context,
            EventKind.UNSUBSCRIBE,
            prospect.email,
            actor="prospect",
            source="unsubscribe-link",
            reason="unsubscribed by link",
        )
        return _page("You are unsubscribed.", "<p>You will not hear from us again.</p>")

    return app


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        f"<title>{title}</title><body style='font-family:system-ui;max-width:32rem;"
        f"margin:4rem auto'><h1 style='font-size:1.3rem'>{title}</h1>{body}</body></html>"
    )
