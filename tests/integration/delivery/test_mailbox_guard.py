"""The deliverability guard on a real store: hard bounces over the limit pause the mailbox
that sent the bounced emails (and only it), its emails wait, none is lost, and a person's
``cadence mailboxes resume`` lets them go with the guard counting afresh."""

from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cadence.cli.mailbox_resume import register_resume
from cadence.core.domain import EventKind
from cadence.core.outcomes import TouchOutcome
from cadence.delivery.batch import deliver_touches
from cadence.runtime.context import AppContext
from cadence.scheduler.tick import scheduler_tick
from cadence.sequences.events import record_by_hand
from cadence.store.database import transaction
from cadence.store.mailbox_health import MailboxHealth, resume, set_health
from cadence.store.models import MailboxDay
from tests.integration.batch_setup import AT, queue_due
from tests.integration.conftest import REPO
from tests.integration.delivery.test_preparation import _sent as _touch
from tests.integration.mailbox_team import (
    Team,
    enroll,
    health,
    team_fixture,  # noqa: F401 - the ``team`` fixture
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


ALEXS = ("ann@acme.example", "abe@axe.example", "amy@arc.example", "al@ark.example")


def _tick(ctx: AppContext) -> list[int]:
    claimed: list[int] = []
    scheduler_tick(ctx, claimed.extend)
    return claimed


def _cli_resume(
    ctx: AppContext, name: str, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> tuple[int, str]:
    """``cadence mailboxes resume NAME`` on the test's store; its exit status and output."""
    settings = ctx.settings
    for key, value in {
        "DATABASE_URL": database_url,
        "CONFIG_DIR": str(settings.config_dir),
        "TEMPLATES_DIR": str(REPO / "templates"),
        "OUTBOX_DIR": str(settings.outbox_dir),
        "PUBLIC_URL": "https://cadence.test",
    }.items():
        monkeypatch.setenv(f"CADENCE_{key}", value)
    mailboxes = typer.Typer()
    mailboxes.command("noop")(lambda: None)  # a group of one command would run it bare
    register_resume(mailboxes)
    result = CliRunner().invoke(mailboxes, ["resume", name])
    return result.exit_code, result.output


def test_hard_bounces_over_the_limit_pause_the_mailbox_until_a_person_resumes_it(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    ctx = team.ctx
    ctx.settings = ctx.settings.model_copy(update={"mailbox_guard_min_sends": 4})
    enroll(team, tmp_path, "alex", *ALEXS)
    enroll(team, tmp_path, "priya", "bob@bolt.example")
    first = queue_due(ctx, team.clock)
    assert set(deliver_touches(ctx, list(first.values())).values()) == {TouchOutcome.SENT}

    # One hard bounce in alex's four sends: 25%, over 5%. Counted at once, judged at the tick.
    record_by_hand(ctx, EventKind.BOUNCE, "ann@acme.example")
    with transaction(ctx.engine) as session:
        day = session.get(MailboxDay, ("alex", AT.date()))
        assert day is not None and (day.started, day.hard_bounces) == (4, 1)
    marked = health(ctx, "alex")
    assert marked is not None and (marked.health, marked.guard_due) == (MailboxHealth.OK, True)
    _tick(ctx)
    state = health(ctx, "alex")
    assert state is not None and (state.health, state.guard_due) == (MailboxHealth.PAUSED, False)
    assert state.reason == "hard bounces 25% of the last 4 sends in 30 days (limit 5%)"
    assert health(ctx, "priya") is None

    # The bumps: alex's wait with the reason on the touch, priya's leaves.
    bumps = queue_due(ctx, team.clock, AT + timedelta(days=3), step=2)
    outcomes = deliver_touches(ctx, list(bumps.values()))
    assert outcomes[bumps["bob@bolt.example"]] is TouchOutcome.SENT
    waiting = [bumps[e] for e in ALEXS[1:]]
    assert "ann@acme.example" not in bumps  # halted by her bounce
    for touch_id in waiting:
        assert outcomes[touch_id] is TouchOutcome.SKIPPED_MAILBOX
        touch = _touch(ctx, touch_id)
        assert touch.status == "scheduled"
        assert touch.reason == f"waiting: alex's mailbox is paused: {state.reason}"
    assert len(team.alex.messages) == 4  # the first emails only

    # Still paused at the retry time: only a person resumes it.
    retry_at = AT + timedelta(days=3, minutes=ctx.settings.mailbox_retry_minutes)
    team.clock.advance_to(retry_at)
    assert set(deliver_touches(ctx, _tick(ctx)).values()) == {TouchOutcome.SKIPPED_MAILBOX}

    assert _cli_resume(ctx, "alex", monkeypatch, database_url) == (
        0,
        "alex's mailbox may send again\n",
    )
    state = health(ctx, "alex")
    assert state is not None and state.health == MailboxHealth.OK
    # The guard counts afresh: the old bounce does not pause it again.
    team.clock.advance_to(retry_at + timedelta(minutes=ctx.settings.mailbox_retry_minutes))
    claimed = _tick(ctx)
    assert health(ctx, "alex").health == MailboxHealth.OK  # type: ignore[union-attr]
    assert sorted(claimed) == sorted(waiting)
    assert set(deliver_touches(ctx, claimed).values()) == {TouchOutcome.SENT}
    assert len(team.alex.messages) == 4 + 3


def test_a_complaint_counts_against_the_mailbox_that_sent_the_email(
    team: Team, tmp_path: Path
) -> None:
    ctx = team.ctx
    ctx.settings = ctx.settings.model_copy(update={"mailbox_guard_min_sends": 1})
    enroll(team, tmp_path, "priya", "bob@bolt.example")
    first = queue_due(ctx, team.clock)
    assert deliver_touches(ctx, list(first.values())) == {
        first["bob@bolt.example"]: TouchOutcome.SENT
    }
    record_by_hand(ctx, EventKind.COMPLAINT, "bob@bolt.example")
    _tick(ctx)
    state = health(ctx, "priya")
    assert state is not None and state.health == MailboxHealth.PAUSED
    assert state.reason == "complaints 100% of the last 1 sends in 30 days (limit 0.3%)"
    assert health(ctx, "alex") is None


def test_resuming_an_sdr_not_on_the_team_says_who_is(
    team: Team, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    status, output = _cli_resume(team.ctx, "zed", monkeypatch, database_url)
    assert status == 1
    assert "no SDR named 'zed' in team.toml; known: alex, priya, jonas" in output
    assert _cli_resume(team.ctx, "priya", monkeypatch, database_url) == (
        0,
        "priya's mailbox was not stopped; nothing changed\n",
    )


def test_too_few_sends_are_not_judged_and_the_mark_is_taken(team: Team, tmp_path: Path) -> None:
    ctx = team.ctx
    enroll(team, tmp_path, "alex", *ALEXS)
    first = queue_due(ctx, team.clock)
    deliver_touches(ctx, list(first.values()))
    record_by_hand(ctx, EventKind.BOUNCE, "ann@acme.example")
    _tick(ctx)
    state = health(ctx, "alex")  # 1 in 4 is 25%, but 4 sends are under the 50 judged
    assert state is not None and (state.health, state.guard_due) == (MailboxHealth.OK, False)


def test_a_pause_outlives_any_connection_until_a_person_resumes_it(team: Team) -> None:
    """A refused login (or the reader's) written over a pause would be cleared by the next
    login that works, and the pause with it."""
    now = team.clock.now()
    steps = [
        (MailboxHealth.PAUSED, True),
        (MailboxHealth.AUTHENTICATION, False),
        (MailboxHealth.UNREACHABLE, False),
        (MailboxHealth.OK, False),
        (MailboxHealth.PAUSED, False),
    ]
    for found, changed in steps:
        with transaction(team.ctx.engine) as session:
            assert set_health(session, "alex", found, reason=found.value, now=now) is changed
        assert health(team.ctx, "alex").health == MailboxHealth.PAUSED  # type: ignore[union-attr]
    with transaction(team.ctx.engine) as session:
        assert resume(session, "alex", now=now, actor="test")
    assert health(team.ctx, "alex").health == MailboxHealth.OK  # type: ignore[union-attr]
