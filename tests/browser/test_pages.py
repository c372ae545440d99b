"""The managers' pages in headless Chromium against a store the demo filled."""

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from cadence.store.database import transaction
from cadence.store.models import Event, Touch

from .conftest import DemoSite, sign_in

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _replied_prospect(site: DemoSite) -> int:
    """A prospect who replied before the cadence's end, so later steps were cancelled."""
    with transaction(site.ctx.engine) as session:
        replied = session.exec(
            select(Event.prospect_id).where(Event.kind == "reply").order_by(col(Event.id))
        ).all()
        for prospect_id in replied:
            cancelled = session.exec(
                select(Touch).where(Touch.prospect_id == prospect_id, Touch.status == "cancelled")
            ).first()
            if prospect_id is not None and cancelled is not None:
                return prospect_id
    raise AssertionError("the demo produced no reply that cut a cadence short")


def test_replied_prospect_timeline_shows_the_reply_and_nothing_sent_after(
    page: Any, demo_site: DemoSite, tmp_path: Path
) -> None:
    sign_in(page, demo_site)
    prospect_id = _replied_prospect(demo_site)
    page.goto(f"{demo_site.url}/ui/prospects/{prospect_id}")

    reply = page.locator("li[data-event=reply]")
    assert reply.count() == 1
    assert reply.is_visible()
    assert "reply" in reply.inner_text()
    replied_at = datetime.fromisoformat(reply.get_attribute("data-at"))

    sent = [
        datetime.fromisoformat(value)
        for value in page.locator("li[data-kind=touch]").evaluate_all(
            "items => items.map(i => i.dataset.sentAt).filter(Boolean)"
        )
    ]
    assert sent, "the timeline shows no sent touch before the reply"
    assert all(at <= replied_at for at in sent)
    # In the page's order too, nothing sent follows the reply; the rest shows as cancelled.
    order = page.locator("li.item").evaluate_all(
        "items => items.map(i => [i.dataset.event || '', i.dataset.sentAt || ''])"
    )
    after_reply = order[[event for event, _ in order].index("reply") + 1 :]
    assert all(not sent_at for _, sent_at in after_reply)
    assert page.locator("li[data-kind=touch][data-status=cancelled]").count() >= 1
    assert page.locator("pre.body").count() >= 1  # the rendered emails are on the page

    shot = tmp_path / "timeline.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000


def test_every_page_renders_for_a_manager(page: Any, demo_site: DemoSite, tmp_path: Path) -> None:
    sign_in(page, demo_site)
    headings = {
        "/ui/": "Overview",
        "/ui/prospects?outcome=reply": "Prospects",
        "/ui/cadences/seven-touch": "Funnel: seven-touch",
        "/ui/activity": "SDR activity",
        "/ui/tasks": "Overdue tasks",
        "/ui/report": "Report",
    }
    for path, heading in headings.items():
        response = page.goto(demo_site.url + path)
        assert response.status == 200, path
        assert page.locator("h1").inner_text().startswith(heading), path
        shot = tmp_path / (path.strip("/").replace("/", "_").split("?")[0] or "overview")
        page.screenshot(path=f"{shot}.png", full_page=True)
    page.goto(demo_site.url + "/ui/cadences/seven-touch")
    assert page.locator("svg.funnel rect").count() >= 7  # one bar per step at least


def test_sign_out_ends_the_session(page: Any, demo_site: DemoSite) -> None:
    sign_in(page, demo_site)
    cookie = next(c for c in page.context.cookies() if c["name"] == "cadence_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    page.click("text=Sign out")
    page.wait_for_url(f"{demo_site.url}/ui/signin")
    page.goto(f"{demo_site.url}/ui/report")
    assert page.url.endswith("/ui/signin")


def _serve(route: Any, request: Any, *, html: str) -> None:
    route.fulfill(body=html, content_type="text/html")


def test_a_form_on_another_site_cannot_sign_the_browser_in_or_out(
    page: Any, demo_site: DemoSite
) -> None:
    """Login CSRF in a real browser: a page on another origin posts the attacker's token to
    our sign-in form, then tries to sign the victim out; both are refused."""
    attacker = "http://attacker.example/"
    for action, fields in (
        ("/ui/signin", f'<input name="token" value="{demo_site.manager_token}">'),
        ("/ui/signout", ""),
    ):
        html = (
            f'<form id="f" method="post" action="{demo_site.url}{action}">{fields}</form>'
            "<script>document.getElementById('f').submit()</script>"
        )
        page.route(attacker, partial(_serve, html=html))
        with page.expect_response(f"{demo_site.url}{action}") as answer:
            page.goto(attacker)
        assert answer.value.status == 403, action
        page.unroute(attacker)
        assert not [c for c in page.context.cookies() if c["name"] == "cadence_session"]
    sign_in(page, demo_site)  # our own form still works in the same browser
    session = next(c for c in page.context.cookies() if c["name"] == "cadence_session")
    assert session["secure"] is True
    assert session["value"] != demo_site.manager_token
