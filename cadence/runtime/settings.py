"""Settings from the environment (prefix ``CADENCE_``) and a ``.env`` file.

Never built at import: entry points call :func:`load_settings` and pass the result down.
"""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cadence.authoring.render_budget import RenderLimits


class Settings(BaseSettings):
    """The settings users and scripts rely on (README); their names do not change."""

    model_config = SettingsConfigDict(env_prefix="CADENCE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///cadence.db"
    redis_url: str | None = None
    outbox_dir: Path = Path("outbox")
    smtp_url: str | None = None
    config_dir: Path = Path("config")
    templates_dir: Path = Path("templates")
    public_url: str = Field(
        default="http://localhost:8000",
        description="Base URL of the web process, used in unsubscribe links.",
    )
    # Inbound webhooks (web process). Unset: that provider's endpoint answers 401/403.
    mailgun_signing_key: str | None = None
    sendgrid_basic_auth: str | None = Field(default=None, description="user:password")
    postmark_basic_auth: str | None = Field(default=None, description="user:password")
    ses_topic_arns: str | None = Field(default=None, description="comma-separated SNS topics")
    inbound_hmac_secret: str | None = Field(
        default=None, description="HMAC-SHA256 key for /api/v1/inbound/raw and generic events"
    )
    webhook_max_age_seconds: int = 300
    # The web process's limits and cookies (README, "Security").
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="largest request body but a webhook's"
    )
    inbound_max_body_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="largest body /api/v1/inbound/* reads"
    )
    secure_cookies: bool = Field(
        default=True,
        description="mark the pages' session cookie Secure whatever scheme the process sees "
        "(it usually sees http behind a TLS proxy); false only for plain HTTP off loopback",
    )
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    scheduler_interval_seconds: float = 5.0
    claim_batch_size: int = 500
    #: Touches per worker message: they share the claim's and the record's commits, so a
    #: larger batch costs less CPU a touch, while a reply waits no longer to halt
    #: (docs/benchmarks.md); a worker killed with -9 leaves up to threads x this many
    #: touches unconfirmed (README).
    delivery_batch_size: int = Field(default=40, ge=1, le=1000)
    #: Threads an embedded engine (``cadence run``) runs, and what a process's database pool
    #: is sized for at first; a dramatiq worker started with more ``--threads`` sizes its pool
    #: for those (workers.pool_fit). On two cores 4 delivered about as fast as 8 and replies
    #: waited less for enrollment locks (docs/benchmarks.md); hence the Procfile's 4.
    worker_threads: int = 4
    #: SDR mailboxes (team.toml [sdr.mailbox]). A mailbox whose login was refused or whose
    #: server was unreachable holds its emails back this long, then one batch tries again.
    mailbox_retry_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    #: The deliverability guard: a mailbox pauses when its hard bounces or complaints over
    #: its sends of the last ``mailbox_guard_days`` UTC days pass these fractions (0.05 is
    #: 5%), once it has ``mailbox_guard_min_sends`` sends there; a person resumes it.
    mailbox_max_hard_bounce_rate: float = Field(default=0.05, gt=0, le=1)
    mailbox_max_complaint_rate: float = Field(default=0.003, gt=0, le=1)
    #: ... and bounces that reject the sender (a blocklist, spam filtering, SPF/DKIM/DMARC).
    mailbox_max_rejection_rate: float = Field(default=0.05, gt=0, le=1)
    mailbox_guard_min_sends: int = Field(default=50, ge=1)
    mailbox_guard_days: int = Field(default=30, ge=1, le=365)
    # SDR mailboxes (`cadence mailboxes sync`): how their replies are read.
    #: Seconds between two passes over a mailbox's folders when the server offers no IDLE
    #: (or ``mailbox_idle`` is off), and over the folders other than the first with IDLE.
    mailbox_poll_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: Wait on IMAP IDLE on the first folder where the server offers it; off: poll only.
    mailbox_idle: bool = True
    #: A mailbox's first pass (or one after its folder was renumbered, a new UIDVALIDITY)
    #: reads mail received this many days back, no older.
    mailbox_lookback_days: int = Field(default=14, ge=1, le=365)
    #: ... and at most this many of the newest messages of each folder.
    mailbox_first_sync_max_messages: int = Field(default=500, ge=1, le=100_000)
    #: A larger message is read as its headers only (up to 64 KiB of them): a reply with a
    #: big attachment still halts its sequence, without holding the attachment in memory.
    mailbox_max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024)
    #: How long a ``mailboxes`` process holds a mailbox without renewing (renewed every
    #: quarter of it): a process that dies hands its mailboxes over within this time.
    mailbox_lease_seconds: float = Field(default=40.0, ge=2, le=600)
    #: Seconds to connect to an IMAP or SMTP server, and to wait for any one answer.
    mailbox_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    #: One render of a template (load-time lint, preview or a touch) stops past any of these:
    #: wall-clock seconds, characters produced (and the longest string it may build), and
    #: steps (loop iterations, calls, lookups). A touch over them fails alone; a template
    #: over them for the lint's sample prospects is blocked.
    render_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    render_max_chars: int = Field(default=262_144, ge=1_000, le=10_000_000)
    render_max_steps: int = Field(default=100_000, ge=1_000, le=100_000_000)


def render_limits(settings: Settings) -> RenderLimits:
    """The CADENCE_RENDER_* settings as the renderer takes them."""
    return RenderLimits(
        seconds=settings.render_timeout_seconds,
        max_chars=settings.render_max_chars,
        max_steps=settings.render_max_steps,
    )


def load_settings(**overrides: object) -> Settings:
    """Read the environment now; ``overrides`` win (used by the demo and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
