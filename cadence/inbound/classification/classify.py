"""One raw inbound message in, one :class:`Verdict` out.

The checks run from the most machine-like to the most human: complaint reports, delivery
reports, auto replies, newsletters, then a person's reply or request to stop. Each earlier
kind can look like a later one (a bounce carries ``Auto-Submitted``, an out-of-office notice
reads like a reply), never the other way round.
"""

from __future__ import annotations

import datetime
import re
from email.message import Message

from cadence.inbound.classification.auto_reply import (
    auto_reply_reason,
    declared_automatic,
    is_read_receipt,
    receipt_references,
)
from cadence.inbound.classification.bounce_addresses import failure_region
from cadence.inbound.classification.bounces import has_delivery_status, read_bounce
from cadence.inbound.classification.challenge import challenge_reason
from cadence.inbound.classification.complaints import read_complaint
from cadence.inbound.classification.mime_text import (
    address,
    body_text,
    display_name,
    header,
    headers,
    message_ids,
    parse,
)
from cadence.inbound.classification.reply_text import own_words, strip_quoted
from cadence.inbound.classification.return_date import find_return_date
from cadence.inbound.classification.unsubscribe import unsubscribe_reason
from cadence.inbound.classification.verdict import Kind, Verdict, unknown

_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|aw|sv|vs|antw|antwort|rif|r|ref|res|odp|rv|réf|ynt|wg|fw|fwd|tr|enc)\s*"
    r"(?:\[\d+\])?\s*:",
    re.I,
)
_LIST_HEADERS = ("List-Unsubscribe", "List-Id", "List-Post", "X-Campaign", "X-Mailchimp-Campaign")
_NO_REPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|notifications?|newsletter)", re.I)


def classify_message(raw: bytes, *, received_at: datetime.datetime) -> Verdict:
    """Classify one raw RFC 5322 message; never raises.

    ``received_at`` (aware) anchors return dates written without a year or as a weekday.
    Any input that cannot be read gives ``kind="unknown"`` with the reason.
    """
    try:
        return _classify(bytes(raw), received_at)
    except Exception as error:  # the contract: any bytes in, a verdict out
        return unknown(f"unreadable message ({type(error).__name__})")


def thread_references(msg: Message) -> list[str]:
    """In-Reply-To, then References from the newest to the oldest."""
    found = message_ids(header(msg, "In-Reply-To"))
    found += list(reversed(message_ids(" ".join(headers(msg, "References")))))
    return list(dict.fromkeys(found))


def _report_type(msg: Message) -> str:
    value = msg.get_param("report-type", header="Content-Type")
    return value.lower() if isinstance(value, str) else ""


def _is_bulk(msg: Message, sender: str | None, in_thread: bool) -> str | None:
    """Why an unthreaded message is a newsletter or notification, or None."""
    if in_thread:
        return None
    for name in _LIST_HEADERS:
        if header(msg, name):
            return f"mailing list or newsletter ({name})"
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"bulk mail (Precedence: {precedence})"
    if sender and _NO_REPLY.match(sender.split("@", 1)[0]):
        return "automated notification (no-reply sender)"
    return None


def _from_sender(
    kind: Kind,
    sender: str | None,
    references: list[str],
    reason: str,
    *,
    return_date: datetime.date | None = None,
    reply_text: str | None = None,
) -> Verdict:
    """A verdict about the message's own sender (a reply, an auto reply, a challenge...)."""
    return Verdict(
        kind=kind,
        addresses=(sender,) if sender else (),
        sender=sender,
        references=tuple(dict.fromkeys(references)),
        return_date=return_date,
        reply_text=reply_text,
        reason=reason,
    )


def own_text(text: str) -> str:
    """The message's own words: above a copy of our message, without quoted lines."""
    return strip_quoted(failure_region(text))


def _classify(raw: bytes, received_at: datetime.datetime) -> Verdict:
    if not raw.strip():
        return unknown("empty message")
    msg = parse(raw)
    if not msg.keys():
        return unknown("no headers: not an email message")
    from_value = header(msg, "From")
    sender = address(from_value)
    subject = header(msg, "Subject")
    text = body_text(msg)
    references = thread_references(msg)

    complaint = read_complaint(msg, text)
    if complaint is not None:
        return Verdict(
            kind="complaint",
            addresses=complaint.recipients,
            sender=sender,
            references=tuple(dict.fromkeys([*complaint.original_ids, *references])),
            reason=complaint.reason,
        )
    if _report_type(msg) == "feedback-report":
        return unknown("feedback report that is not a complaint", sender=sender)
    challenge = None if has_delivery_status(msg) else challenge_reason(subject, own_text(text))
    if challenge is not None:
        return _from_sender("challenge", sender, references, challenge)
    bounce = read_bounce(msg, text)
    if bounce is not None:
        if bounce.judgement is None:
            reason = f"delivery notification without failure ({bounce.reason})"
            return unknown(reason, sender=sender)
        return Verdict(
            kind="bounce",
            bounce=bounce.judgement.bounce,
            bounce_reason=bounce.judgement.reason,
            rejects_sender=bounce.judgement.rejects_sender,
            addresses=bounce.recipients,
            sender=sender,
            references=tuple(dict.fromkeys([*bounce.original_ids, *references])),
            reason=bounce.reason,
        )

    in_thread = bool(references) or bool(_REPLY_PREFIX.match(subject))
    unquoted = strip_quoted(text)
    auto = auto_reply_reason(msg, subject=subject, text=unquoted, in_thread=in_thread)
    if auto is not None:
        bulk = _is_bulk(msg, sender, in_thread)
        if bulk and not declared_automatic(msg) and "out of office" not in auto:
            return unknown(bulk, sender=sender)
        if is_read_receipt(msg):
            cited = [*receipt_references(msg), *references]
            return _from_sender("auto_reply", sender, cited, auto)
        back = find_return_date(f"{subject}\n{unquoted}", today=received_at.date())
        return _from_sender("auto_reply", sender, references, auto, return_date=back)
    bulk = _is_bulk(msg, sender, in_thread)
    if bulk:
        return unknown(bulk, sender=sender)

    words = own_words(text, display_name(from_value))
    stop = unsubscribe_reason(subject, words)
    if stop is not None:
        return _from_sender("unsubscribe", sender, references, stop, reply_text=words)
    if not words and not in_thread and not subject:
        return unknown("no subject, no text and no thread", sender=sender)
    said = "reply from a person" if in_thread else "message from a person (not in a thread)"
    return _from_sender("reply", sender, references, said, reply_text=words)
