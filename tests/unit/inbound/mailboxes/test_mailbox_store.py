"""The store's side of mailbox reading on SQLite: the lease's compare-and-set, the folder
checkpoint, and the health a connection records."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from cadence.core.clock import SimulatedClock
from cadence.core.errors import MailboxLoginRefused, MailboxUnreachable
from cadence.inbound.mailboxes.connection_health import record_connection
from cadence.store.database import transaction
from cadence.store.mailbox_checkpoints import advance, checkpoint
from cadence.store.mailbox_health import MailboxHealth, mailbox_states, set_health
from cadence.store.mailbox_leases import lease_holder, release_lease, take_lease

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _take(engine: Engine, holder: str, at: datetime) -> bool:
    with transaction(engine) as session:
        return take_lease(session, "alex", holder, now=at, seconds=40)


def test_a_lease_is_one_holders_until_it_expires(engine: Engine) -> None:
    assert _take(engine, "a", NOW)
    assert not _take(engine, "b", NOW + timedelta(seconds=39))
    assert _take(engine, "a", NOW + timedelta(seconds=39))  # a renewal moves the expiry on
    assert not _take(engine, "b", NOW + timedelta(seconds=78))
    assert _take(engine, "b", NOW + timedelta(seconds=79))
    assert not _take(engine, "a", NOW + timedelta(seconds=80))
    with transaction(engine) as session:
        assert lease_holder(session, "alex", now=NOW + timedelta(seconds=80)) == "b"
        assert not release_lease(session, "alex", "a")
        assert release_lease(session, "alex", "b")
        assert lease_holder(session, "alex", now=NOW + timedelta(seconds=80)) is None
    assert _take(engine, "a", NOW + timedelta(seconds=80))


def test_a_checkpoint_never_moves_back_under_the_same_uidvalidity(engine: Engine) -> None:
    with transaction(engine) as session:
        advance(session, "alex", "INBOX", uidvalidity=7, last_uid=120, now=NOW)
    with transaction(engine) as session:
        advance(session, "alex", "INBOX", uidvalidity=7, last_uid=90, now=NOW)
    with transaction(engine) as session:
        kept = checkpoint(session, "alex", "INBOX")
        assert kept is not None and (kept.uidvalidity, kept.last_uid) == (7, 120)
        advance(session, "alex", "INBOX", uidvalidity=8, last_uid=3, now=NOW)
    with transaction(engine) as session:
        renumbered = checkpoint(session, "alex", "INBOX")
        assert renumbered is not None and (renumbered.uidvalidity, renumbered.last_uid) == (8, 3)


def _health(engine: Engine) -> tuple[str, str | None]:
    with transaction(engine) as session:
        state = mailbox_states(session)["alex"]
        return state.health, state.reason


def test_a_connection_clears_only_what_its_own_side_recorded(engine: Engine) -> None:
    clock = SimulatedClock(NOW)
    refused = MailboxLoginRefused("SMTP login refused for alex: check the app password")
    record_connection(engine, clock, "alex", side="SMTP", failure=refused)

    assert not record_connection(engine, clock, "alex", side="IMAP", failure=None)
    assert _health(engine)[0] == "authentication"
    assert record_connection(engine, clock, "alex", side="SMTP", failure=None)
    assert _health(engine) == ("ok", None)

    down = MailboxUnreachable("server down")
    record_connection(engine, clock, "alex", side="IMAP", failure=down)
    assert _health(engine) == ("unreachable", "IMAP: server down")


def test_a_pause_outlasts_connection_failures_and_successes(engine: Engine) -> None:
    clock = SimulatedClock(NOW)
    with transaction(engine) as session:
        set_health(session, "alex", MailboxHealth.PAUSED, reason="bounce rate 9%", now=NOW)
    refused = MailboxLoginRefused("IMAP login refused")

    assert not record_connection(engine, clock, "alex", side="IMAP", failure=refused)
    assert not record_connection(engine, clock, "alex", side="IMAP", failure=None)
    assert _health(engine) == ("paused", "bounce rate 9%")
