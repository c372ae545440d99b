"""What a process needs to run use cases: settings, store, definitions, clock and transport.

Built by entry points (CLI, worker, web), passed down explicitly; nothing is global.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Engine

from cadence.authoring.catalog import Catalog, load_catalog
from cadence.core.clock import Clock, SimulatedClock, SystemClock
from cadence.core.errors import ConfigurationError
from cadence.runtime.mailbox_routes import mailbox_routes
from cadence.runtime.settings import Settings, render_limits
from cadence.store.database import create_db_engine
from cadence.transports import MailTransport, build_transport


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    catalog: Catalog
    clock: Clock
    transport: MailTransport

    def close(self) -> None:
        self.transport.close()
        self.engine.dispose()


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: MailTransport | None = None,
    engine: Engine | None = None,
) -> AppContext:
    """Everything a process needs, its transport routing each SDR's email through their own
    mailbox (team.toml) on real time only. Refuses to send real mail (``CADENCE_SMTP_URL``,
    or an SDR mailbox with ``smtp``) whose unsubscribe links would point at this machine
    (``CADENCE_PUBLIC_URL`` left at its localhost default)."""
    catalog = load_catalog(
        settings.config_dir, settings.templates_dir, render_limits=render_limits(settings)
    )
    if transport is None:
        # The SDRs' mailboxes are real accounts: simulated time (``cadence run --simulate``,
        # the demo) never sends through them, as it never sends by CADENCE_SMTP_URL.
        simulated = isinstance(clock, SimulatedClock)
        routes = [] if simulated else mailbox_routes(catalog.team)
        if settings.smtp_url or routes:
            _check_public_url(settings, "an SDR mailbox" if routes else "CADENCE_SMTP_URL")
        transport = build_transport(
            smtp_url=settings.smtp_url, outbox_dir=str(settings.outbox_dir), mailboxes=routes
        )
    return AppContext(
        settings=settings,
        engine=engine or create_db_engine(settings.database_url, threads=settings.worker_threads),
        catalog=catalog,
        clock=clock or SystemClock(),
        transport=transport,
    )


def _check_public_url(settings: Settings, sender: str) -> None:
    host = (urlsplit(settings.public_url).hostname or "").lower()
    if host in {"localhost", "127.0.0.1", "::1", ""} or host.endswith(".localhost"):
        raise ConfigurationError(
            f"{sender} sends real email but CADENCE_PUBLIC_URL is {settings.public_url}: "
            "real emails would carry a dead unsubscribe link; set CADENCE_PUBLIC_URL to "
            "the web process's public address"
        )
