"""``cadence mailboxes check``: sign in to each side of a mailbox now and say what to fix.

IMAP: the login, then each configured folder opened read-only. SMTP: the connection, TLS
as the URL asks, and the login; nothing is sent. What is found is recorded as the mailbox's
health, as the reader and the sender record it; both sides working clears a login or
reachability failure (never a pause).
"""

from dataclasses import dataclass, field

from imapclient.exceptions import IMAPClientError

from cadence.core.errors import (
    MailboxError,
)
from cadence.inbound.mailboxes.connection_health import (
    clear_connection_failures,
    record_connection,
)
from cadence.inbound.mailboxes.imap_session import (
    close_quietly,
    connection_errors,
    imap_server,
    open_session,
)
from cadence.inbound.mailboxes.sdr_mailboxes import SdrMailbox
from cadence.inbound.mailboxes.smtp_login import smtp_sign_in
from cadence.runtime.context import AppContext


class FolderMissing(MailboxError):
    """A configured folder does not open: a mistake in team.toml, not the mailbox's health."""


@dataclass
class MailboxCheck:
    owner: str
    #: What works, side by side ("IMAP: INBOX, Replies", "SMTP: login").
    passed: list[str] = field(default_factory=list)
    #: What does not, each with what to fix.
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_mailbox(ctx: AppContext, sdr: SdrMailbox, *, actor: str) -> MailboxCheck:
    """Try both sides of ``sdr``'s mailbox and record its health."""
    done = MailboxCheck(sdr.owner)
    timeout = ctx.settings.mailbox_timeout_seconds
    for side, url, attempt in (
        ("IMAP", sdr.mailbox.imap, _check_imap),
        ("SMTP", sdr.mailbox.smtp, smtp_sign_in),
    ):
        if url is None:
            continue
        try:
            done.passed.append(f"{side}: {attempt(sdr, timeout)}")
        except MailboxError as exc:
            done.problems.append(str(exc))
            if isinstance(exc, FolderMissing):
                continue
            record_connection(ctx.engine, ctx.clock, sdr.owner, side=side, failure=exc, actor=actor)
    if not done.problems:
        clear_connection_failures(ctx.engine, ctx.clock, sdr.owner, actor=actor)
    return done


def _check_imap(sdr: SdrMailbox, timeout: float) -> str:
    """Sign in and open each folder; a folder that will not open is said, not recorded as
    the mailbox's health (the others are read)."""
    client = open_session(sdr.mailbox, timeout=timeout)
    opened, missing = [], []
    try:
        for folder in sdr.mailbox.folders:
            try:
                with connection_errors(str(imap_server(sdr.mailbox))):
                    client.select_folder(folder, readonly=True)
                opened.append(folder)
            except MailboxError:
                raise
            except IMAPClientError as exc:
                missing.append(f"{folder!r} ({str(exc)[:120]})")
    finally:
        close_quietly(client)
    if missing:
        raise FolderMissing(
            f"IMAP folders of {sdr.owner} that cannot be opened: {', '.join(missing)}; fix "
            "folders in config/team.toml (the names the mail client shows)"
        )
    return "login, " + ", ".join(opened)
