"""A mailbox's login failure recorded again and again: the time moves on, nothing breaks."""

from collections.abc import Callable
from datetime import timedelta

import pytest

from cadence.core.clock import SimulatedClock
from cadence.runtime.context import AppContext
from cadence.runtime.store_setup import init_store
from cadence.store.database import transaction
from cadence.store.mailbox_health import MailboxHealth
from cadence.store.mailbox_sending import note_login_failure
from cadence.store.models import MailboxState
from tests.integration.conftest import START

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("health", [MailboxHealth.AUTHENTICATION, MailboxHealth.UNREACHABLE])
def test_a_failure_found_again_moves_its_time_on(
    make_context: Callable[..., AppContext], health: MailboxHealth
) -> None:
    ctx = make_context(clock=SimulatedClock(START))
    init_store(ctx)
    later = START + timedelta(minutes=15)
    with transaction(ctx.engine) as session:
        note_login_failure(session, "alex", health, reason="SMTP refused (535)", now=START)
    with transaction(ctx.engine) as session:
        note_login_failure(session, "alex", health, reason="SMTP refused again", now=later)
    with transaction(ctx.engine) as session:
        state = session.get(MailboxState, "alex")
        assert state is not None
        assert (state.health, state.reason, state.changed_at) == (
            health.value,
            "SMTP refused again",
            later,
        )
