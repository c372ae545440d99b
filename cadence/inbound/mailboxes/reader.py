"""Reading one SDR mailbox: sign in (recording the mailbox's health), one pass over each of
its folders, sign out. Both ``cadence mailboxes sync --once`` and the watching process read
through here."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from cadence.core.errors import MailboxError
from cadence.inbound.mailboxes.connection_health import record_connection
from cadence.inbound.mailboxes.folder_sync import FolderPass, ReadLimits, sync_folder
from cadence.inbound.mailboxes.imap_session import connection_errors, imap_server, open_session
from cadence.inbound.mailboxes.sdr_mailboxes import SdrMailbox
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.mailbox_checkpoints import record_sync

log = logging.getLogger(__name__)


@dataclass
class MailboxPass:
    owner: str
    folders: list[FolderPass] = field(default_factory=list)
    #: Folders the server refused to open, and why (a folder that does not exist).
    folder_errors: dict[str, str] = field(default_factory=dict)
    #: Why the mailbox was not read (a refused login, an unreachable server).
    error: str | None = None
    #: Another process holds the mailbox's lease and reads it.
    held_by: str | None = None

    @property
    def complete(self) -> bool:
        return (
            self.error is None
            and self.held_by is None
            and not any(f.interrupted for f in self.folders)
        )


def connect(ctx: AppContext, sdr: SdrMailbox) -> IMAPClient:
    """Sign in to the mailbox and record its health either way; raises :class:`MailboxError`."""
    try:
        client = open_session(sdr.mailbox, timeout=ctx.settings.mailbox_timeout_seconds)
    except MailboxError as exc:
        record_connection(ctx.engine, ctx.clock, sdr.owner, side="IMAP", failure=exc)
        raise
    record_connection(ctx.engine, ctx.clock, sdr.owner, side="IMAP", failure=None)
    return client


def read_folders(
    ctx: AppContext, client: IMAPClient, sdr: SdrMailbox, *, keep_going: Callable[[], bool]
) -> MailboxPass:
    """One pass over every folder of the mailbox on a signed-in connection. Raises
    :class:`MailboxUnreachable` when the connection drops; a folder the server will not open
    is reported and the others are read."""
    limits = ReadLimits.from_settings(ctx.settings)
    server = str(imap_server(sdr.mailbox))
    done = MailboxPass(sdr.owner)
    for folder in sdr.mailbox.folders:
        if not keep_going():
            return done
        try:
            with connection_errors(server):
                done.folders.append(
                    sync_folder(ctx, client, sdr, folder, limits=limits, keep_going=keep_going)
                )
        except MailboxError:
            raise
        except IMAPClientError as exc:
            done.folder_errors[folder] = f"{exc}"[:200]
            log.warning("mailbox %s: folder %r not read: %s", sdr.owner, folder, exc)
    if done.complete:
        with transaction(ctx.engine) as session:
            record_sync(session, sdr.owner, now=ctx.clock.now())
    return done
