"""Each SDR's email leaves through their own mailbox (a real SMTP server on loopback with
AUTH per SDR), the others' through the team transport; a refused login stops only that
mailbox, moves its emails later and loses none; a bump stays on its thread's mailbox."""

import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from cadence.core.clock import SimulatedClock
from cadence.core.errors import MailboxUnavailable
from cadence.core.outcomes import TouchOutcome
from cadence.delivery.batch import deliver_touches
from cadence.runtime.context import AppContext
from cadence.scheduler.tick import scheduler_tick
from cadence.sequences.mailbox_guard import guard_limits, resume_mailbox
from cadence.store.database import transaction
from cadence.store.mailbox_health import MailboxHealth
from cadence.store.models import (
    AuditEntry,
    Enrollment,
    MailboxState,
    Prospect,
    Touch,
)
from tests.integration.batch_setup import AT, queue_due
from tests.integration.conftest import START
from tests.integration.delivery.test_preparation import _sent as _touch
from tests.integration.mailbox_servers import mailbox_server, password_env
from tests.integration.mailbox_team import (
    ALEX_PASSWORD,
    PRIYA_PASSWORD,
    Team,
    enroll,
    health,
    routed,
    team_config,
    team_fixture,  # noqa: F401 - the ``team`` fixture
)
from tests.integration.smtp_sink import free_port

pytestmark = [
    pytest.mark.integration,
    # Plain AUTH on loopback, as the mailbox config allows there only.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

WRONG_PASSWORD = "wrong-horse-battery-staple-9"


def test_each_sdr_sends_through_their_own_mailbox(team: Team, tmp_path: Path) -> None:
    enroll(team, tmp_path, "alex", "ann@acme.example")
    enroll(team, tmp_path, "priya", "bob@bolt.example")
    enroll(team, tmp_path, "jonas", "cy@cog.example")
    queued = queue_due(team.ctx, team.clock)
    outcomes = deliver_touches(team.ctx, list(queued.values()))
    assert set(outcomes.values()) == {TouchOutcome.SENT}
    assert team.alex.senders == ["alex@brightwave.example"]
    assert [r.rcpt_tos for r in team.alex.messages] == [["ann@acme.example"]]
    assert team.alex.messages[0].message["From"].addresses[0].addr_spec == (
        "alex@brightwave.example"
    )
    assert team.priya.senders == ["priya@brightwave.example"]
    assert [r.rcpt_tos for r in team.priya.messages] == [["bob@bolt.example"]]
    # jonas has no mailbox: the team transport (here the outbox) sends his.
    outbox = list(team.outbox.glob("*.eml"))
    assert len(outbox) == 1 and "cy@cog.example" in outbox[0].read_text()
    for email, touch_id in queued.items():
        owner = {"ann": "alex", "bob": "priya", "cy": "jonas"}[email.split("@")[0]]
        assert _touch(team.ctx, touch_id).mailbox == owner


def test_connections_are_reused_across_a_mailboxs_emails(team: Team, tmp_path: Path) -> None:
    enroll(team, tmp_path, "alex", "ann@acme.example", "abe@axe.example", "amy@arc.example")
    queued = queue_due(team.ctx, team.clock)
    deliver_touches(team.ctx, list(queued.values()))
    assert len(team.alex.messages) == 3
    assert len(team.alex.attempts) == 1  # one login for the three
    team.ctx.transport.close()


def test_a_refused_login_stops_only_that_mailbox_and_loses_nothing(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(password_env("alex"), WRONG_PASSWORD)
    enroll(team, tmp_path, "alex", "ann@acme.example", "abe@axe.example")
    enroll(team, tmp_path, "priya", "bob@bolt.example")
    queued = queue_due(team.ctx, team.clock)
    ids = [queued["ann@acme.example"], queued["abe@axe.example"], queued["bob@bolt.example"]]
    outcomes = deliver_touches(team.ctx, ids)

    # priya's mail flows; alex's mailbox refused the login once and is marked so.
    assert outcomes[queued["bob@bolt.example"]] is TouchOutcome.SENT
    assert len(team.priya.messages) == 1
    assert team.alex.messages == []
    tried = len(team.alex.attempts)
    assert tried and not any(ok for _, _, ok in team.alex.attempts)
    state = health(team.ctx, "alex")
    assert state is not None and state.health == MailboxHealth.AUTHENTICATION
    assert state.reason is not None and password_env("alex") in state.reason
    # alex's two emails wait for it: scheduled later, with the reason, nothing failed.
    retry_at = AT + timedelta(minutes=team.ctx.settings.mailbox_retry_minutes)
    for email in ("ann@acme.example", "abe@axe.example"):
        assert outcomes[queued[email]] is TouchOutcome.SKIPPED_MAILBOX
        touch = _touch(team.ctx, queued[email])
        assert (touch.status, touch.due_at, touch.attempts) == ("scheduled", retry_at, 0)
        assert touch.reason is not None and "alex's mailbox refused the login" in touch.reason

    # Due again before the retry time: the claim holds them without trying the server.
    with transaction(team.ctx.engine) as session:
        session.execute(
            update(Touch)
            .where(col(Touch.id).in_(ids[:2]))
            .values(due_at=AT)
            .execution_options(synchronize_session=False)
        )
    team.clock.advance_to(AT + timedelta(minutes=1))
    claimed: list[int] = []
    scheduler_tick(team.ctx, claimed.extend)
    assert sorted(claimed) == sorted(ids[:2])
    outcomes = deliver_touches(team.ctx, claimed)
    assert set(outcomes.values()) == {TouchOutcome.SKIPPED_MAILBOX}
    assert len(team.alex.attempts) == tried
    for touch_id in ids[:2]:
        touch = _touch(team.ctx, touch_id)
        assert (touch.status, touch.due_at, touch.attempts) == ("scheduled", retry_at, 0)
        assert touch.reason is not None and touch.reason.startswith(
            "waiting: alex's mailbox is authentication"
        )

    # The password fixed: at the retry time the next login goes through and sends them.
    monkeypatch.setenv(password_env("alex"), ALEX_PASSWORD)
    team.clock.advance_to(retry_at)
    claimed = []
    scheduler_tick(team.ctx, claimed.extend)
    assert sorted(claimed) == sorted(ids[:2])
    assert set(deliver_touches(team.ctx, claimed).values()) == {TouchOutcome.SENT}
    assert sorted(r.rcpt_tos[0] for r in team.alex.messages) == [
        "abe@axe.example",
        "ann@acme.example",
    ]
    state = health(team.ctx, "alex")
    assert state is not None and state.health == MailboxHealth.OK

    # The password was never written anywhere: logs, reasons, audit entries.
    assert WRONG_PASSWORD not in caplog.text and ALEX_PASSWORD not in caplog.text
    with transaction(team.ctx.engine) as session:
        stored = [t.reason or "" for t in session.exec(select(Touch))]
        stored += [(a.reason or "") + (a.after or "") for a in session.exec(select(AuditEntry))]
        stored += [s.reason or "" for s in session.exec(select(MailboxState))]
    for text in stored:
        assert WRONG_PASSWORD not in text and ALEX_PASSWORD not in text


def test_an_unreachable_mailbox_waits_and_the_others_send(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mailbox_server("priya@brightwave.example", PRIYA_PASSWORD) as priya:
        nothing_there = free_port()
        config = team_config(tmp_path, {"alex": nothing_there, "priya": priya.port}, monkeypatch)
        clock = SimulatedClock(START)
        ctx = routed(make_context, clock, config)
        team = Team(ctx, clock, priya, priya, tmp_path / "outbox")
        enroll(team, tmp_path, "alex", "ann@acme.example", "abe@axe.example")
        enroll(team, tmp_path, "priya", "bob@bolt.example")
        queued = queue_due(ctx, clock)
        outcomes = deliver_touches(ctx, list(queued.values()))
    assert outcomes[queued["bob@bolt.example"]] is TouchOutcome.SENT
    assert len(priya.messages) == 1
    state = health(ctx, "alex")
    assert state is not None and state.health == MailboxHealth.UNREACHABLE
    assert state.reason is not None and f"127.0.0.1:{nothing_there}" in state.reason
    for email in ("ann@acme.example", "abe@axe.example"):
        assert outcomes[queued[email]] is TouchOutcome.SKIPPED_MAILBOX
        touch = _touch(ctx, queued[email])
        assert (touch.status, touch.attempts) == ("scheduled", 0)


def test_a_bump_leaves_from_the_first_emails_mailbox_after_an_owner_change(
    team: Team, tmp_path: Path
) -> None:
    enroll(team, tmp_path, "alex", "ann@acme.example")
    first = queue_due(team.ctx, team.clock)["ann@acme.example"]
    assert deliver_touches(team.ctx, [first]) == {first: TouchOutcome.SENT}
    first_id = team.alex.messages[0].message["Message-ID"]
    # ann is handed to priya before the bump.
    with transaction(team.ctx.engine) as session:
        session.execute(update(Enrollment).values(owner="priya"))
        session.execute(update(Prospect).values(owner="priya"))
    bump = queue_due(team.ctx, team.clock, AT + timedelta(days=3), step=2)["ann@acme.example"]
    assert deliver_touches(team.ctx, [bump]) == {bump: TouchOutcome.SENT}
    assert team.priya.messages == []
    assert team.alex.senders == ["alex@brightwave.example"] * 2
    reply = team.alex.messages[1].message
    assert reply["In-Reply-To"] == first_id
    assert reply["From"].addresses[0].addr_spec == "alex@brightwave.example"
    body = reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Alex Test <alex@brightwave.example> wrote:" in " ".join(body.split())
    assert _touch(team.ctx, bump).mailbox == "alex"


def test_an_unset_password_variable_stops_the_mailbox_and_names_it(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(password_env("alex"))
    enroll(team, tmp_path, "alex", "ann@acme.example")
    queued = queue_due(team.ctx, team.clock)
    touch_id = queued["ann@acme.example"]
    assert deliver_touches(team.ctx, [touch_id]) == {touch_id: TouchOutcome.SKIPPED_MAILBOX}
    assert team.alex.attempts == []  # nothing to log in with: no AUTH tried
    state = health(team.ctx, "alex")
    assert state is not None and state.health == MailboxHealth.AUTHENTICATION
    assert state.reason == (
        "alex's mailbox cannot log in: the environment variable "
        "CADENCE_MAILBOX_ALEX_PASSWORD is not set"
    )
    assert _touch(team.ctx, touch_id).status == "scheduled"


def test_a_server_offering_only_auth_login_is_logged_in_to(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mailbox_server("alex@brightwave.example", ALEX_PASSWORD, without=("PLAIN",)) as alex:
        config = team_config(tmp_path, {"alex": alex.port}, monkeypatch)
        clock = SimulatedClock(START)
        team = Team(routed(make_context, clock, config), clock, alex, alex, tmp_path / "outbox")
        enroll(team, tmp_path, "alex", "ann@acme.example")
        queued = queue_due(team.ctx, clock)
        assert set(deliver_touches(team.ctx, list(queued.values())).values()) == {TouchOutcome.SENT}
    assert alex.attempts == [("alex@brightwave.example", "LOGIN", True)]
    assert alex.senders == ["alex@brightwave.example"]


def test_a_refused_login_raises_nothing_that_holds_the_password(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error, its whole chain and its traceback, as a log line with exc_info would
    print them."""
    monkeypatch.setenv(password_env("alex"), WRONG_PASSWORD)
    enroll(team, tmp_path, "alex", "ann@acme.example")
    message = EmailMessage()
    message["From"] = "Alex Test <alex@brightwave.example>"
    message["To"] = "ann@acme.example"
    message["Message-ID"] = "<x@brightwave.example>"
    message.set_content("hi")
    with pytest.raises(MailboxUnavailable) as raised:
        team.ctx.transport.send(message)
    printed = "".join(traceback.format_exception(raised.value))
    assert "SMTPAuthenticationError" in printed  # the chain is there, the password is not
    assert WRONG_PASSWORD not in printed and ALEX_PASSWORD not in printed
    assert (raised.value.mailbox, raised.value.health) == ("alex", "authentication")


def test_a_temporary_login_failure_marks_the_mailbox_unreachable_not_its_password(
    team: Team, tmp_path: Path
) -> None:
    team.alex.auth_answer = "454 4.7.0 Temporary authentication failure"
    enroll(team, tmp_path, "alex", "ann@acme.example")
    touch_id = queue_due(team.ctx, team.clock)["ann@acme.example"]
    assert deliver_touches(team.ctx, [touch_id]) == {touch_id: TouchOutcome.SKIPPED_MAILBOX}
    state = health(team.ctx, "alex")
    assert state is not None and state.health == MailboxHealth.UNREACHABLE
    assert state.reason is not None and "could not check the login for now (SMTP 454" in (
        state.reason
    )


def test_a_fixed_password_and_a_resume_send_the_held_emails(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(password_env("alex"), WRONG_PASSWORD)
    enroll(team, tmp_path, "alex", "ann@acme.example", "abe@axe.example")
    ids = list(queue_due(team.ctx, team.clock).values())
    assert set(deliver_touches(team.ctx, ids).values()) == {TouchOutcome.SKIPPED_MAILBOX}
    monkeypatch.setenv(password_env("alex"), ALEX_PASSWORD)
    with transaction(team.ctx.engine) as session:
        assert resume_mailbox(
            session,
            team.ctx.catalog,
            "alex",
            now=team.clock.now(),
            actor="test",
            limits=guard_limits(team.ctx.settings),
        )
    state = health(team.ctx, "alex")
    assert state is not None and state.health == MailboxHealth.OK
    team.clock.advance_to(AT + timedelta(minutes=team.ctx.settings.mailbox_retry_minutes))
    claimed: list[int] = []
    scheduler_tick(team.ctx, claimed.extend)
    assert sorted(claimed) == sorted(ids)
    assert set(deliver_touches(team.ctx, claimed).values()) == {TouchOutcome.SENT}
    assert sorted(r.rcpt_tos[0] for r in team.alex.messages) == [
        "abe@axe.example",
        "ann@acme.example",
    ]
