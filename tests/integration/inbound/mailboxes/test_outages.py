"""Readers under faults: a Dovecot killed in the middle of a pass and started again, and a
``mailboxes`` process killed while another waits to take its mailbox over."""

import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cadence.store.database import transaction
from cadence.store.mailbox_checkpoints import checkpoint
from cadence.store.mailbox_health import mailbox_states
from cadence.store.mailbox_leases import lease_holder
from tests.integration.cli.test_cli import cadence_process

from .conftest import World, message
from .dovecot import Dovecot, running_dovecot
from .test_watching import wait_for, watching

pytestmark = pytest.mark.integration


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """These tests kill their server: each gets its own."""
    with running_dovecot() as server:
        yield server


def _last_uid(world: World) -> int:
    with transaction(world.ctx.engine) as session:
        mark = checkpoint(session, "alex", "INBOX")
    return mark.last_uid if mark is not None else 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_server_killed_mid_pass_costs_no_reply_and_no_duplicate(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    replies = {0: "ann@acme.example", 75: "bo@globex.example", 149: "cy@initech.example"}
    padding = ("Private, with a long quote below.\r\n" + "> " + "q" * 76 + "\r\n") * 120
    mail = [
        world.reply(replies[n])
        if n in replies
        else message(
            sender=f"builds{n}@ci.example",
            subject=f"Nightly build {n} passed",
            message_id=f"<build.{n}@ci.example>",
            body=padding,
            # Automatic: the reader reads its body to rule out a bounce, which is slow
            # enough a pass to cut in the middle.
            extra="Auto-Submitted: auto-generated\r\n",
        )
        for n in range(150)
    ]
    client = world.imap()
    for start in range(0, 150, 50):
        client.multiappend(
            "INBOX", [{"msg": m, "date": world.clock.now()} for m in mail[start : start + 50]]
        )
    client.logout()

    with watching(world):
        wait_for(lambda: _last_uid(world) >= 50, 30)
        world.dovecot.kill()
        cut_at = _last_uid(world)
        time.sleep(1.5)
        world.dovecot.start()
        wait_for(lambda: _last_uid(world) == 150, 60)

    assert cut_at < 150, "the pass ended before the server was killed: append more mail"
    assert sorted(e.prospect_id for e in world.events() if e.kind == "reply") == [1, 2, 3]
    assert len(world.events()) == 3
    assert {world.state(email) for email in replies.values()} == {"halted"}
    with transaction(world.ctx.engine) as session:
        assert mailbox_states(session)["alex"].health == "ok"


def _holder(world: World) -> str:
    with transaction(world.ctx.engine) as session:
        return lease_holder(session, "alex", now=datetime.now(UTC)) or ""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_killed_process_hands_its_mailbox_over_within_the_lease(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    world = make_world()
    env = world.cli_env(CADENCE_MAILBOX_LEASE_SECONDS="3")
    first = cadence_process(tmp_path, "mailboxes", "sync", env_extra=env)
    second = None
    try:
        wait_for(lambda: f":{first.pid}:" in _holder(world), 30)
        second = cadence_process(tmp_path, "mailboxes", "sync", env_extra=env)
        world.append(world.reply("ann@acme.example"), at=datetime.now(UTC))
        wait_for(lambda: world.state("ann@acme.example") == "halted", 15)
        for _ in range(12):  # 3 s: the second process tries every 0.75 s
            assert f":{first.pid}:" in _holder(world)
            time.sleep(0.25)

        first.kill()
        handed_over = wait_for(lambda: f":{second.pid}:" in _holder(world), 10)
        world.append(world.reply("bo@globex.example"), at=datetime.now(UTC))
        wait_for(lambda: world.state("bo@globex.example") == "halted", 15)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        for process in (first, second):
            if process is not None:
                if process.poll() is None:
                    process.kill()
                process.communicate(timeout=30)
    assert _holder(world) == ""
    assert handed_over < 3 + 1.5
    assert [e.kind for e in world.events()] == ["reply", "reply"]
