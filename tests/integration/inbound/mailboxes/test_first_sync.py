"""A mailbox's first read is bounded: mail older than the look-back window is never read,
and of the window only the newest messages up to a count."""

from collections.abc import Callable
from datetime import timedelta

import pytest

from cadence.inbound.mailboxes import Intake
from cadence.store.database import transaction
from cadence.store.mailbox_checkpoints import checkpoint

from .conftest import World, message

pytestmark = pytest.mark.integration


def _private(n: int) -> bytes:
    return message(
        sender=f"newsletter{n}@elsewhere.example",
        subject=f"Note {n}",
        message_id=f"<note.{n}@elsewhere.example>",
        body=f"Private note number {n}.",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_first_sync_reads_only_the_look_back_window(make_world: Callable[..., World]) -> None:
    world = make_world(mailbox_lookback_days=14)
    old = world.clock.now() - timedelta(days=60)
    client = world.imap()
    for start in range(0, 2000, 500):
        client.multiappend(
            "INBOX", [{"msg": _private(n), "date": old} for n in range(start, start + 500)]
        )
    client.logout()
    world.append(_private(5001), at=world.clock.now() - timedelta(days=13))
    world.append(world.reply("ann@acme.example"))

    done = world.sync()

    assert done.folders[0].from_window
    assert done.folders[0].intake == {Intake.PRIVATE: 1, Intake.STORED: 1}
    with transaction(world.ctx.engine) as session:
        mark = checkpoint(session, "alex", "INBOX")
    assert mark is not None and mark.last_uid == 2002
    assert world.state("ann@acme.example") == "halted"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_first_sync_reads_at_most_the_newest_messages_of_the_window(
    make_world: Callable[..., World],
) -> None:
    world = make_world(mailbox_first_sync_max_messages=2)
    for n in range(3):
        world.append(_private(n))
    world.append(world.reply("bo@globex.example"))
    world.append(world.reply("ann@acme.example"))

    first = world.sync()
    world.append(_private(9))
    then = world.sync()

    assert first.folders[0].intake == {Intake.STORED: 2}
    assert then.folders[0].intake == {Intake.PRIVATE: 1}
