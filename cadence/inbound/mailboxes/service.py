"""The ``mailboxes`` process's two ways of running: one pass over the mailboxes this process
can lease (``sync --once``), or watching them until stopped, one thread a mailbox, taking
over the mailboxes of a process that stopped once their leases run out."""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Sequence

from cadence.core.errors import MailboxError
from cadence.inbound.mailboxes.imap_session import close_quietly
from cadence.inbound.mailboxes.leases import LeaseKeeper
from cadence.inbound.mailboxes.reader import MailboxPass, connect, read_folders
from cadence.inbound.mailboxes.sdr_mailboxes import SdrMailbox
from cadence.inbound.mailboxes.watcher import MailboxWatcher
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.mailbox_leases import lease_holder

log = logging.getLogger(__name__)


def process_holder() -> str:
    """This process's name on the leases it holds: host, pid and a random part."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _keeper(ctx: AppContext, sdr: SdrMailbox, holder: str) -> LeaseKeeper:
    return LeaseKeeper(
        ctx.engine,
        ctx.clock,
        sdr.owner,
        holder=holder,
        seconds=ctx.settings.mailbox_lease_seconds,
    )


def sync_once(
    ctx: AppContext, mailboxes: Sequence[SdrMailbox], *, holder: str
) -> list[MailboxPass]:
    """One pass over every folder of each mailbox whose lease this process can take; a
    mailbox another process reads is reported as held and left to it."""
    passes = []
    for sdr in mailboxes:
        keeper = _keeper(ctx, sdr, holder)
        if not keeper.take():
            with transaction(ctx.engine) as session:
                held_by = lease_holder(session, sdr.owner, now=ctx.clock.now())
            passes.append(MailboxPass(sdr.owner, held_by=held_by or "another process"))
            continue
        try:
            client = connect(ctx, sdr)
        except MailboxError as exc:
            passes.append(MailboxPass(sdr.owner, error=str(exc)))
            keeper.release()
            continue
        try:
            passes.append(read_folders(ctx, client, sdr, keep_going=keeper.still_held))
        except MailboxError as exc:
            passes.append(MailboxPass(sdr.owner, error=str(exc)))
        finally:
            close_quietly(client)
            keeper.release()
    return passes


def watch_mailboxes(
    ctx: AppContext, mailboxes: Sequence[SdrMailbox], *, holder: str, stop: threading.Event
) -> None:
    """Read the mailboxes until ``stop`` is set: every quarter of the lease, each mailbox
    not read here gets a watcher if its lease can be taken. Returns once every watcher has
    stopped and given its lease up."""
    watchers: dict[str, threading.Thread] = {}
    every = ctx.settings.mailbox_lease_seconds / 4
    while not stop.is_set():
        for sdr in mailboxes:
            running = watchers.get(sdr.owner)
            if running is not None and running.is_alive():
                continue
            keeper = _keeper(ctx, sdr, holder)
            if not keeper.take():
                continue
            log.info("mailbox %s: reading (lease %s)", sdr.owner, holder)
            watcher = MailboxWatcher(ctx, sdr, keeper, stop)
            thread = threading.Thread(target=watcher.run, name=f"mailbox-{sdr.owner}", daemon=True)
            watchers[sdr.owner] = thread
            thread.start()
        stop.wait(every)
    for thread in watchers.values():
        thread.join(timeout=ctx.settings.mailbox_timeout_seconds + 5)
