"""The watching reader on a real Dovecot: IDLE wakes it for a new reply within seconds,
polling does where IDLE is off, and a stop gives the lease up."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from cadence.inbound.mailboxes import watch_mailboxes
from cadence.store.database import transaction
from cadence.store.mailbox_checkpoints import checkpoint
from cadence.store.mailbox_leases import lease_holder

from .conftest import World

pytestmark = pytest.mark.integration


def wait_for(what: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``what`` held; fails the test when it did not within ``seconds``."""
    began = time.monotonic()
    while not what():
        if time.monotonic() - began > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - began


@contextmanager
def watching(world: World, holder: str = "watcher") -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_mailboxes,
        args=(world.ctx, [world.sdr]),
        kwargs={"holder": holder, "stop": stop},
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the reader did not stop"


def first_pass_done(world: World, folder: str = "INBOX") -> Callable[[], bool]:
    def done() -> bool:
        with transaction(world.ctx.engine) as session:
            return checkpoint(session, world.sdr.owner, folder) is not None

    return done


def test_idle_halts_a_reply_within_seconds_and_a_stop_gives_the_lease_up(
    make_world: Callable[..., World],
) -> None:
    # Polling every ten minutes: only IDLE can bring the reply in within seconds.
    world = make_world(mailbox_poll_seconds=600)
    with watching(world):
        wait_for(first_pass_done(world), 10)
        world.append(world.reply("ann@acme.example"))
        seconds = wait_for(lambda: world.state("ann@acme.example") == "halted", 5)
        with transaction(world.ctx.engine) as session:
            held = lease_holder(session, "alex", now=world.clock.now())
    with transaction(world.ctx.engine) as session:
        after = lease_holder(session, "alex", now=world.clock.now())
    assert (held, after) == ("watcher", None)
    assert [e.kind for e in world.events()] == ["reply"]
    assert seconds < 5


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_polling_reads_new_mail_when_idle_is_off(make_world: Callable[..., World]) -> None:
    world = make_world(mailbox_idle=False, mailbox_poll_seconds=0.5)
    with watching(world):
        wait_for(first_pass_done(world), 10)
        world.append(world.reply("bo@globex.example"))
        wait_for(lambda: world.state("bo@globex.example") == "halted", 5)
    assert [e.kind for e in world.events()] == ["reply"]
