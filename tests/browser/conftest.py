"""The web app on a loopback port against a store the demo filled, and Debian's headless
Chromium driven by Playwright. A missing Chromium skips on a laptop but fails when ``CI``
is set (scripts/browser installs it); no browser is ever downloaded."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from cadence.api.app import create_app
from cadence.demo.run import run_demo
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.settings import load_settings
from cadence.store.api_users import Role, add_user
from cadence.store.database import transaction

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class DemoSite:
    url: str
    ctx: AppContext
    manager_token: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    summary = run_demo(
        prospects=30, seed=11, workspace=tmp_path_factory.mktemp("demo") / "ws", quiet=True
    )
    root = Path(summary["workspace"])
    settings = load_settings(
        database_url=f"sqlite:///{root / 'cadence.db'}",
        redis_url=None,
        smtp_url=None,
        outbox_dir=root / "outbox",
        config_dir=root / "config",
        templates_dir=root / "templates",
    )
    ctx = build_context(settings)
    with transaction(ctx.engine) as session:
        token = add_user(session, "morgan", Role.MANAGER, now=datetime.now(UTC), actor="test")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web app did not start on loopback", pytrace=False)
        time.sleep(0.05)
    yield DemoSite(f"http://127.0.0.1:{port}", ctx, token)
    server.should_exit = True
    thread.join(timeout=10)
    ctx.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; scripts/browser installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, demo_site: DemoSite) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Any, site: DemoSite) -> None:
    page.goto(f"{site.url}/ui/")
    assert page.url.endswith("/ui/signin")  # every page needs the session cookie
    page.fill("#token", site.manager_token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/ui/")
