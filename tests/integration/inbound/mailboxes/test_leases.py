"""One reader a mailbox: a second process leaves a leased mailbox alone and takes it over
once the lease runs out; the first process then stops reading it."""

from collections.abc import Callable
from datetime import timedelta

import pytest

from cadence.inbound.mailboxes import Intake
from cadence.inbound.mailboxes.leases import LeaseKeeper

from .conftest import World

pytestmark = pytest.mark.integration


def test_a_leased_mailbox_is_left_alone_until_its_lease_runs_out(
    make_world: Callable[..., World],
) -> None:
    world = make_world(mailbox_lease_seconds=40)
    first = LeaseKeeper(world.ctx.engine, world.clock, "alex", holder="process-a", seconds=40)
    assert first.take()
    world.append(world.reply("ann@acme.example"))

    left = world.sync(holder="process-b")
    world.clock.advance_to(world.clock.now() + timedelta(seconds=39))
    still_left = world.sync(holder="process-b")
    world.clock.advance_to(world.clock.now() + timedelta(seconds=2))
    taken = world.sync(holder="process-b")

    assert (left.held_by, still_left.held_by) == ("process-a", "process-a")
    assert taken.held_by is None and taken.folders[0].intake == {Intake.STORED: 1}
    assert world.state("ann@acme.example") == "halted"
    # process-b gave the lease up at the end of its pass, so process-a may take it again,
    # but a renewal while another holds it fails: process-a would stop reading.
    second = LeaseKeeper(world.ctx.engine, world.clock, "alex", holder="process-c", seconds=40)
    assert second.take()
    world.clock.advance_to(world.clock.now() + timedelta(seconds=11))
    assert not first.still_held()
    assert second.still_held()
