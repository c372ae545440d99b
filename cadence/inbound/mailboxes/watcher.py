"""Watching one SDR mailbox until told to stop or its lease is lost: a pass over every
folder, then a wait for new mail (IMAP IDLE on the first folder where the server offers it,
else the poll interval), again; a lost connection is re-made with a growing pause.

A refused login is retried slowly (a person must fix it, and hammering a provider with bad
logins gets accounts locked); an unreachable server quickly at first, up to a minute apart.
"""

import logging
import threading
import time

from imapclient import IMAPClient

from cadence.core.errors import MailboxError, MailboxLoginRefused
from cadence.inbound.mailboxes.folder_sync import FolderPass
from cadence.inbound.mailboxes.imap_session import close_quietly, connection_errors, imap_server
from cadence.inbound.mailboxes.leases import LeaseKeeper
from cadence.inbound.mailboxes.reader import connect, read_folders
from cadence.inbound.mailboxes.sdr_mailboxes import SdrMailbox
from cadence.runtime.context import AppContext

log = logging.getLogger(__name__)

#: Seconds between two tries of a refused login.
LOGIN_RETRY_SECONDS = 300.0
#: Reconnection pauses after a lost connection: doubling from the first, up to the last.
RECONNECT_FIRST_SECONDS, RECONNECT_MAX_SECONDS = 1.0, 60.0
#: How often the wait for new mail looks at the stop signal and the lease.
_TICK_SECONDS = 1.0


class MailboxWatcher:
    def __init__(
        self, ctx: AppContext, sdr: SdrMailbox, keeper: LeaseKeeper, stop: threading.Event
    ) -> None:
        self._ctx, self._sdr, self._keeper, self._stop = ctx, sdr, keeper, stop
        self._server = str(imap_server(sdr.mailbox))

    def run(self) -> None:
        """Read until stopped or the lease is lost, then give the lease up. Never raises: a
        watcher thread is a process boundary, and one mailbox's trouble must not stop the
        others."""
        pause = RECONNECT_FIRST_SECONDS
        try:
            while self.keep_going():
                try:
                    client = connect(self._ctx, self._sdr)
                except MailboxLoginRefused as exc:
                    log.error("mailbox %s: %s", self._sdr.owner, exc)
                    self._pause(LOGIN_RETRY_SECONDS)
                    continue
                except MailboxError as exc:
                    log.warning("mailbox %s: %s; again in %.0f s", self._sdr.owner, exc, pause)
                    self._pause(pause)
                    pause = min(pause * 2, RECONNECT_MAX_SECONDS)
                    continue
                pause = RECONNECT_FIRST_SECONDS
                try:
                    self._watch(client)
                except MailboxError as exc:
                    log.warning("mailbox %s: %s", self._sdr.owner, exc)
                except Exception:  # the thread's boundary: log, retry later
                    log.exception(
                        "mailbox %s: reading failed; again in %.0f s", self._sdr.owner, pause
                    )
                    self._pause(pause)
                    pause = min(pause * 2, RECONNECT_MAX_SECONDS)
                finally:
                    close_quietly(client)
        finally:
            self._keeper.release()

    def keep_going(self) -> bool:
        return not self._stop.is_set() and self._keeper.still_held()

    def _watch(self, client: IMAPClient) -> None:
        first = self._sdr.mailbox.folders[0]
        while self.keep_going():
            done = read_folders(self._ctx, client, self._sdr, keep_going=self.keep_going)
            read = next((f for f in done.folders if f.folder == first), None)
            self._wait_for_mail(client, read)

    def _wait_for_mail(self, client: IMAPClient, read: FolderPass | None) -> None:
        """Return when new mail may have come, the poll interval has passed, or the reader
        must stop. ``read`` is the last pass over the first folder, IDLE's: mail that came
        between that pass and the IDLE would bring no notice, so it ends the wait at once.
        Raises :class:`MailboxUnreachable` when the connection is gone."""
        settings = self._ctx.settings
        deadline = time.monotonic() + settings.mailbox_poll_seconds
        with connection_errors(self._server):
            if read is None or not (settings.mailbox_idle and client.has_capability("IDLE")):
                self._pause(settings.mailbox_poll_seconds)
                return
            status = client.select_folder(read.folder, readonly=True)
            if (
                int(status[b"UIDVALIDITY"]) != read.uidvalidity
                or int(status.get(b"UIDNEXT", 0)) - 1 > read.read_through
            ):
                return
            client.idle()
            try:
                while self.keep_going() and time.monotonic() < deadline:
                    began = time.monotonic()
                    news = client.idle_check(timeout=_TICK_SECONDS)
                    # An empty answer before the timeout is a closed socket: idle_done says.
                    if news or time.monotonic() - began < _TICK_SECONDS / 2:
                        return
            finally:
                client.idle_done()

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.keep_going() and time.monotonic() < deadline:
            self._stop.wait(min(_TICK_SECONDS, max(0.0, deadline - time.monotonic())))
