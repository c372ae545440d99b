"""Whether a message without a readable delivery-status part is still a bounce.

Legacy and vendor servers (AOL, old Exchange and Lotus, GroupWise, InterScan, MDaemon, qmail,
Sina) write prose, sometimes from a sender that is no daemon, sometimes resent through a
mailing list that adds ``List-Id`` and ``Precedence: bulk``. Two independent signs are asked
for (a daemon sender, a failure subject, failure wording in the body, an empty envelope
sender, ``Auto-Submitted``), so a person who writes "my mail could not be delivered" in a
reply is not taken for a server.
"""

from __future__ import annotations

import re
from email.message import Message

from cadence.inbound.classification.mime_text import address, header
from cadence.inbound.classification.report_fields import report_parts

DAEMON_LOCAL = re.compile(
    r"^(?:mailer[-_.]?daemon|postmaster|mail[-_.]?daemon|mdaemon|mailadmin|mailadm|"
    r"mail[-_.]?delivery(?:[-_.]system)?|bounce[s]?(?:[-_.]notification)?|ndr|imss|inetgw\d*|"
    r"[\w.-]*smtp[_.-]?mail[_.-]?service|[\w.-]*antivirus[\w.-]*)$",
    re.I,
)
_DAEMON_NAME = re.compile(
    r"mail delivery (?:system|subsystem|service)|delivery subsystem|mailer.?daemon|postmaster|"
    r"mail administrator|delivery status notification|mail system|system administrator|"
    r"jetmail|interscan|antivirus|mail gateway",
    re.I,
)
_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|delivery (?:failure|failed|report|"
    r"problem|notification|delayed|incomplete|warning)|returned mail|mail delivery (?:failed|"
    r"failure|system|problem)|failure (?:notice|delivery)|could ?n[o']t (?:be )?deliver|"
    r"non[- ]?deliver|not delivered|delivery has failed|message (?:not delivered|delayed|"
    r"delivery failed)|mail system error|returned to sender|status - undeliverable|"
    r"warning: could not send|delayed mail|mail error|failed mail|mail failed|"
    r"error during delivery|rejected mail|processing error|user unknown|"
    r"unzustellbar|nicht zustellbar|non remis|non distribuable|no se puede entregar|"
    r"no entregado|onbestelbaar|niet bezorgd|não é possível entregar|não entregue|"
    r"non recapitabile|impossibile recapitare|niedostarczon|nie dostarczono|"
    r"nie można dostarczyć|address not found|non recensé|не доставлено|не может быть доставлено|"
    r"退信|无法送达|未送达|配信不能|配送不能",
    re.I,
)
_BODY = re.compile(
    r"this is the mail system at host|could not be delivered|cannot be delivered|"
    r"can't be delivered|message that you sent (?:could not be|has not yet been) delivered|"
    r"qmail-send program|permanent fatal errors|the original message was received at|"
    r"delivery (?:has failed|is delayed) to these recipients|"
    r"your message to .{1,200}? (?:couldn't|could not) be delivered|"
    r"your message (?:wasn't|was not|couldn't be|could not be|has not been) delivered|"
    r"address not found|message not delivered|did not reach (?:some or all of the intended|"
    r"the following)|recipient\(s\) (?:cannot|could not) be reached|"
    r"unable to deliver (?:your|the)? ?message|was not delivered to|"
    r"undeliverable to the following|delivery to the following recipients? (?:failed|has been "
    r"delayed|was aborted)|delevery to the following|mail delivery failed|"
    r"wasn't able to deliver|this is a permanent error|following address(?:\(es\)|es)? failed|"
    r"error occurred while trying to deliver|failed to deliver|delivery status notification|"
    r"non-?delivery (?:report|notification)|delivery incomplete|temporary problem delivering|"
    r"has not yet been delivered|message was not accepted|was automatically rejected|"
    r"(?:mail|message) (?:could not|cannot) be delivered|your mail cannot be delivered|"
    r"intended recipient:|failed recipients|user unknown|no such user|"
    r"konnte nicht zugestellt werden|zustellung (?:ist )?fehlgeschlagen|unzustellbar|"
    r"n'a pas pu être remis|impossible de remettre|no se (?:pudo|ha podido) entregar|"
    r"no pudo ser entregado|não (?:pôde|foi possível) (?:ser )?entreg|"
    r"non è stato possibile recapitare|impossibile recapitare|kon niet (?:worden )?bezorgd|"
    r"kan niet worden bezorgd|nie (?:może zostać|została|można) dostarcz|n'a pas pu etre delivre|"
    r"не (?:может быть )?доставлено|无法送达|无法发送|未能送达",
    re.I,
)
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
# "RE: Undeliverable: intro" from a person is their answer about a bounce, not a bounce;
# "RE: intro : non remis" from a gateway keeps the failure after the subject.
_ANSWER_TO_BOUNCE = re.compile(
    r"^\s*(?:re|aw|sv|vs|fw|fwd|wg|tr|rv|enc|odp|antw)\s*:\s*(?:undeliver|returned mail|"
    r"delivery status notification|mail delivery fail|failure notice|non[- ]?deliver|"
    r"delivery (?:failure|has failed)|unzustellbar|nicht zustellbar|non remis|"
    r"address not found|mail delivery system)",
    re.I,
)
# Auto replies carry Auto-Submitted too; their footers may say "could not be delivered".
_AUTO_REPLY_SUBJECT = re.compile(
    r"auto(?:matic|mated)?[ -]?(?:reply|response|answer)|out of (?:the )?office|abwesen|"
    r"réponse automatique|respuesta automática|automatisch antwoord|resposta automática|"
    r"risposta automatica|odpowiedź automatyczna",
    re.I,
)


def is_daemon(msg: Message) -> bool:
    """Whether the message comes from a mail server rather than a person."""
    sender = header(msg, "From")
    local = (address(sender) or "").split("@", 1)[0].strip('"')
    return bool(DAEMON_LOCAL.match(local) or _DAEMON_NAME.search(sender))


def _report_type(msg: Message) -> str:
    value = msg.get_param("report-type", header="Content-Type")
    return value.lower() if isinstance(value, str) else ""


def looks_like_bounce(msg: Message, text: str) -> bool:
    """Whether ``msg`` (``text`` is its readable body) is a delivery failure notice."""
    if _report_type(msg) == "delivery-status" or report_parts(msg, *_DSN_TYPES):
        return True
    if header(msg, "X-Failed-Recipients"):
        return True
    subject_value = header(msg, "Subject")
    daemon = is_daemon(msg)
    subject = bool(_SUBJECT.search(subject_value))
    body = bool(_BODY.search(text[:30_000]))
    null_sender = header(msg, "Return-Path").replace(" ", "") in ("<>", "<MAILER-DAEMON>")
    automatic = header(msg, "Auto-Submitted").strip().lower() not in ("", "no")
    if daemon and (subject or body):
        return True
    if _ANSWER_TO_BOUNCE.match(subject_value) and not null_sender:
        return False
    if subject and body:
        return True
    if _AUTO_REPLY_SUBJECT.search(subject_value):
        return False
    early = bool(_BODY.search(text[:1_500]))
    return early and (null_sender or automatic)


#: Content types a message needs to be read by its headers alone: plain text, or text and
#: its HTML twin. Anything else (a report, a forwarded message, attachments) may hide a
#: delivery or abuse report in its parts.
_PLAIN_TYPES = frozenset({"text/plain", "text/html", "multipart/alternative"})
_REPORT_SUBJECT = re.compile(r"abuse|complaint|spam|feedback|report", re.I)


def may_be_a_report(msg: Message) -> bool:
    """Whether the headers alone (``msg`` may be parsed headers-only) leave open that the
    message is a bounce or a complaint: any content type but plain text, a daemon sender, a
    bounce or abuse subject, a null return path, or an automatic message. False says the
    body need not be read to know it is neither, which is what :func:`looks_like_bounce`
    and the report parsers need to call one."""
    sender = header(msg, "From")
    subject = header(msg, "Subject")
    return (
        msg.get_content_type() not in _PLAIN_TYPES
        or bool(DAEMON_LOCAL.match((address(sender) or "").split("@", 1)[0]))
        or bool(_DAEMON_NAME.search(sender))
        or bool(_SUBJECT.search(subject) or _REPORT_SUBJECT.search(subject))
        or header(msg, "Return-Path").replace(" ", "") == "<>"
        or header(msg, "Auto-Submitted").strip().lower() not in ("", "no")
    )
