"""One pass over one mailbox folder: the messages that arrived since its checkpoint, each
through :func:`take_in`, the checkpoint moved after every chunk.

The folder is opened read-only and bodies are fetched with ``BODY.PEEK``: reading the rep's
mailbox never marks their mail as read. A folder read for the first time, or renumbered by
the server (a new UIDVALIDITY), is read from the look-back window only, newest messages
first up to a bound; anything read twice that way is one event, as the inbound path
de-duplicates by Message-ID. A message over the size cap is read as its headers only.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from imapclient import IMAPClient

from cadence.inbound.mailboxes.intake import Intake, take_in
from cadence.inbound.mailboxes.sdr_mailboxes import SdrMailbox
from cadence.runtime.context import AppContext
from cadence.runtime.settings import Settings
from cadence.store.database import transaction
from cadence.store.mailbox_checkpoints import advance, checkpoint

log = logging.getLogger(__name__)

#: Messages fetched per round trip; the checkpoint moves after each chunk.
CHUNK = 50
#: Of a message over the size cap, this much of its header is read.
HEADER_BYTES = 64 * 1024
#: Whole messages are fetched in groups of at most this many times the size cap.
FETCH_CAPS = 2
_BODY, _HEADER = b"BODY[]", b"BODY[HEADER]<0>"


@dataclass(frozen=True)
class ReadLimits:
    lookback_days: int
    first_sync_max_messages: int
    max_message_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "ReadLimits":
        return cls(
            lookback_days=settings.mailbox_lookback_days,
            first_sync_max_messages=settings.mailbox_first_sync_max_messages,
            max_message_bytes=settings.mailbox_max_message_bytes,
        )


@dataclass
class FolderPass:
    folder: str
    uidvalidity: int = 0
    #: The checkpoint's last UID after the pass: mail with a higher UID is still unread.
    read_through: int = 0
    #: The folder was read from its look-back window (first pass, or a new UIDVALIDITY).
    from_window: bool = False
    intake: Counter[str] = field(default_factory=Counter)
    #: Messages over the size cap, read as their headers only.
    truncated: int = 0
    #: The pass stopped early (the lease was lost, or the process is stopping).
    interrupted: bool = False


def sync_folder(
    ctx: AppContext,
    client: IMAPClient,
    sdr: SdrMailbox,
    folder: str,
    *,
    limits: ReadLimits,
    keep_going: Callable[[], bool],
) -> FolderPass:
    """Read what is new in ``folder``; raises the connection's errors (the checkpoint keeps
    what was done). ``keep_going`` is asked before each chunk."""
    status = client.select_folder(folder, readonly=True)
    uidvalidity = int(status[b"UIDVALIDITY"])
    newest = int(status.get(b"UIDNEXT", 1)) - 1
    done = FolderPass(folder, uidvalidity=uidvalidity)
    with transaction(ctx.engine) as session:
        mark = checkpoint(session, sdr.owner, folder)
        last_uid = mark.last_uid if mark is not None and mark.uidvalidity == uidvalidity else None
    if last_uid is None:
        done.from_window = True
        since = (ctx.clock.now() - timedelta(days=limits.lookback_days)).date()
        uids = sorted(client.search(["SINCE", since]))[-limits.first_sync_max_messages :]
        last_uid = 0
    else:
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
    for start in range(0, len(uids), CHUNK):
        if not keep_going():
            done.interrupted = True
            return done
        chunk = uids[start : start + CHUNK]
        for uid, raw, truncated in _fetch(client, chunk, limits.max_message_bytes):
            done.truncated += truncated
            label = f"mailbox:{sdr.owner}/{folder}/{uidvalidity}/{uid}"
            intake = take_in(
                ctx, raw, owner=sdr.owner, own_addresses=sdr.own_addresses, label=label
            )
            done.intake[intake] += 1
        last_uid = done.read_through = chunk[-1]
        _advance(ctx, sdr.owner, folder, uidvalidity, last_uid)
    # Messages outside the window, and those expunged while reading, are passed for good;
    # a folder read from its window keeps its UIDVALIDITY even when it was empty.
    done.read_through = max(newest, last_uid)
    if newest > last_uid or done.from_window:
        _advance(ctx, sdr.owner, folder, uidvalidity, done.read_through)
    if done.intake[Intake.STORED] or done.truncated:
        log.info("mailbox %s, %s: %s", sdr.owner, folder, dict(done.intake))
    return done


def _advance(ctx: AppContext, owner: str, folder: str, uidvalidity: int, last_uid: int) -> None:
    with transaction(ctx.engine) as session:
        advance(
            session, owner, folder, uidvalidity=uidvalidity, last_uid=last_uid, now=ctx.clock.now()
        )


def _fetch(
    client: IMAPClient, uids: Sequence[int], max_bytes: int
) -> Iterator[tuple[int, bytes, bool]]:
    """``(uid, raw, truncated)``: whole messages up to ``max_bytes``, fetched a few at a
    time so that no more than :data:`FETCH_CAPS` times ``max_bytes`` is held at once, and the
    first :data:`HEADER_BYTES` of the header of larger ones (marked so in an added header).
    Messages expunged meanwhile are left out. The order within ``uids`` is not kept: the
    checkpoint moves only after all of them."""
    sizes = {
        uid: int(data[b"RFC822.SIZE"])
        for uid, data in client.fetch(list(uids), ["RFC822.SIZE"]).items()
        if b"RFC822.SIZE" in data
    }
    large = [u for u in uids if sizes.get(u, 0) > max_bytes]
    if large:
        for uid, data in client.fetch(large, [f"BODY.PEEK[HEADER]<0.{HEADER_BYTES}>"]).items():
            if isinstance(data.get(_HEADER), bytes):
                note = f"X-Cadence-Truncated: headers only, the message was {sizes[uid]} bytes\r\n"
                yield uid, note.encode() + _whole_lines(data[_HEADER]), True
    batch: list[int] = []
    held = 0
    for uid in [u for u in uids if u in sizes and sizes[u] <= max_bytes]:
        if batch and held + sizes[uid] > FETCH_CAPS * max_bytes:
            yield from _bodies(client, batch)
            batch, held = [], 0
        batch.append(uid)
        held += sizes[uid]
    if batch:
        yield from _bodies(client, batch)


def _bodies(client: IMAPClient, uids: list[int]) -> Iterator[tuple[int, bytes, bool]]:
    for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items():
        if isinstance(data.get(_BODY), bytes):
            yield uid, data[_BODY], False


def _whole_lines(header: bytes) -> bytes:
    """A header cut at :data:`HEADER_BYTES` ends at its last whole line, then a blank line."""
    if len(header) >= HEADER_BYTES and b"\n" in header:
        header = header[: header.rindex(b"\n") + 1]
    return header.rstrip(b"\r\n") + b"\r\n\r\n"
