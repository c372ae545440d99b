"""RFC 8058 one-click unsubscribe.

GET on an unsubscribe link only shows a confirmation page, because mail scanners follow
links; only a POST (the mail client's one-click, or the page's button) unsubscribes. The
POST takes no Origin check: mail providers send the one-click from their own servers, and
the link's token is the credential. A second POST answers the same page and adds nothing.
"""

import html
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from cadence.core.domain import EventKind
from cadence.runtime.context import AppContext
from cadence.sequences.events import record_event
from cadence.store.database import transaction
from cadence.store.models import Event, Prospect, Suppression
from cadence.web.deps import context

unsubscribe_router = APIRouter(include_in_schema=False)
Ctx = Annotated[AppContext, Depends(context)]


def _prospect_for(ctx: AppContext, token: str) -> Prospect:
    if not 16 <= len(token) <= 64:
        raise HTTPException(status_code=404, detail="unknown unsubscribe link")
    with transaction(ctx.engine) as session:
        prospect = session.exec(select(Prospect).where(Prospect.unsubscribe_token == token)).first()
    if prospect is None:
        raise HTTPException(status_code=404, detail="unknown unsubscribe link")
    return prospect


@unsubscribe_router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def confirm_unsubscribe(token: str, ctx: Ctx) -> str:
    prospect = _prospect_for(ctx, token)
    company = html.escape(ctx.catalog.team.company.name)
    return _page(
        f"Unsubscribe {html.escape(prospect.email)} from {company}?",
        '<form method="post"><input type="hidden" name="List-Unsubscribe" '
        'value="One-Click"><button type="submit">Unsubscribe</button></form>',
    )


@unsubscribe_router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, ctx: Ctx) -> str:
    prospect = _prospect_for(ctx, token)
    with transaction(ctx.engine) as session:
        # The prospect's row lock serialises two POSTs of the same link (PostgreSQL).
        session.exec(select(Prospect.id).where(Prospect.id == prospect.id).with_for_update())
        if not _unsubscribed(session, prospect):
            record_event(
                session,
                ctx.catalog,
                kind=EventKind.UNSUBSCRIBE,
                email=prospect.email,
                now=ctx.clock.now(),
                actor="prospect",
                source="unsubscribe-link",
                reason="unsubscribed by link",
            )
    return _page("You are unsubscribed.", "<p>You will not hear from us again.</p>")


def _unsubscribed(session: Session, prospect: Prospect) -> bool:
    """Unsubscribed already and still suppressed: a repeat changes nothing. Once the address
    is let back in (``cadence dnc remove``), the link unsubscribes again."""
    suppressed = session.exec(
        select(Suppression.id).where(Suppression.value == prospect.email)
    ).first()
    said_so = session.exec(
        select(Event.id).where(
            Event.prospect_id == prospect.id, Event.kind == EventKind.UNSUBSCRIBE.value
        )
    ).first()
    return suppressed is not None and said_so is not None


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        f"<title>{title}</title><body style='font-family:system-ui;max-width:32rem;"
        f"margin:4rem auto'><h1 style='font-size:1.3rem'>{title}</h1>{body}</body></html>"
    )
