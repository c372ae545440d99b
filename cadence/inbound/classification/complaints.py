"""Spam complaints: ARF feedback reports (RFC 5965) from mailbox providers' feedback loops.

The complaining recipient is in ``Original-Rcpt-To`` or ``Removal-Recipient`` when the
provider does not redact it, otherwise in the ``To`` of the embedded original message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from cadence.inbound.classification.mime_text import address, attached_messages, header, message_ids
from cadence.inbound.classification.report_fields import field_blocks, report_parts, typed_value

# Feedback types that mean "this person objects to the mail"; not-spam and auth-failure
# (DMARC forensic) reports do not.
_COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other", "opt-out", "complaint")
_TEXT_REPORT = re.compile(
    r"this is an? (?:e-?mail )?abuse report|spam complaint|complaint about (?:a )?message|"
    r"\[spamcop|reported (?:this|the following) (?:message|email) as spam|"
    r"feedback-type:\s*abuse|client tos notification|"
    r"(?:marked|reported|flagged) (?:the attached|this|the following) (?:message|e-?mail) as "
    r"(?:spam|junk)|junk mail reporting program|feedback-type:\s*(?:fraud|complaint)|"
    r"(?:received|filed) (?:a |an )?(?:spam |abuse )?complaint (?:about|regarding|concerning)",
    re.I,
)


@dataclass(frozen=True)
class Complaint:
    """A spam or abuse report about a message we sent."""

    recipients: tuple[str, ...]
    original_ids: tuple[str, ...]
    reason: str


def _originals_info(msg: Message) -> tuple[list[str], list[str]]:
    recipients: list[str] = []
    ids: list[str] = []
    for original in attached_messages(msg):
        ids.extend(message_ids(header(original, "Message-ID"))[:1])
        # Microsoft's JMRP names the complaining mailbox in its own header.
        for name in ("X-HmXmrOriginalRecipient", "To"):
            candidate = address(header(original, name))
            if candidate and "redacted" not in candidate:
                recipients.append(candidate)
                break
    return recipients, ids


def read_complaint(msg: Message, text: str) -> Complaint | None:
    """The complaint ``msg`` reports (``text`` is its readable body), or None."""
    parts = report_parts(msg, "message/feedback-report")
    if not parts:
        report_type = msg.get_param("report-type", header=("Content-Type"))
        is_feedback = isinstance(report_type, str) and report_type.lower() == "feedback-report"
        described = f"{header(msg, 'Subject')}\n{text[:20_000]}"
        if not is_feedback and not _TEXT_REPORT.search(described):
            return None
        fields: dict[str, str] = {}
        feedback_type = "abuse"
        source = "abuse report"
    else:
        source = "ARF feedback report"
        fields = {}
        for part in parts:
            for block in field_blocks(part):
                fields.update(block)
        feedback_type = fields.get("feedback-type", "abuse").strip().lower() or "abuse"
        if feedback_type not in _COMPLAINT_TYPES:
            return None
    recipients: list[str] = []
    for name in ("original-rcpt-to", "removal-recipient"):
        for value in fields.get(name, "").split(","):
            candidate = address(typed_value(value))
            if candidate and "redacted" not in candidate:
                recipients.append(candidate)
    original_recipients, ids = _originals_info(msg)
    recipients.extend(original_recipients)
    return Complaint(
        recipients=tuple(dict.fromkeys(recipients)),
        original_ids=tuple(dict.fromkeys(ids)),
        reason=f"{source}: {feedback_type}",
    )
