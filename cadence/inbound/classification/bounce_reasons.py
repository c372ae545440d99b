"""Hard or soft: what a failure's status codes and wording say about the address.

A hard bounce means the address is gone (user unknown, domain missing, rejected for good); a
soft one means it may work later (mailbox full, greylisting, delays, "will retry"). A full
mailbox counts as soft even with a 5.x.x code, as most senders treat it.
"""

from __future__ import annotations

import re

from cadence.inbound.classification.verdict import BounceKind

ENHANCED_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_BASIC_CODE = re.compile(r"(?:^|[\s:(#\[])([45])\d\d(?=[\s\-:)])", re.M)

QUOTA = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota (?:exceeded|exceed)|"
    r"exceeded (?:the |their |his |her )?(?:storage|quota)|insufficient (?:system )?storage|"
    r"mailbox size limit|inbox is full|disk quota|out of storage|storage allocation|"
    r"over (?:its|the|their) quota|mailbox (?:has )?exceeded|full mailbox|mailfolder is full|"
    r"postfach (?:ist )?voll|speicherplatz|boîte (?:aux lettres )?(?:est )?pleine|"
    r"buzón (?:está )?lleno|mailbox (?:is )?vol|caixa (?:postal )?(?:está )?cheia|"
    r"casella (?:è )?piena|skrzynka (?:jest )?pełna",
    re.I,
)
DELAY = re.compile(
    r"delivery (?:is |has been )?delayed|delayed mail|has not (?:yet )?been delivered|"
    r"not yet been delivered|will (?:continue to |automatically )?retry|will be retried|"
    r"still (?:being )?retried|will keep trying|warning message only|do not need to resend|"
    r"delivery incomplete|temporary (?:problem|failure|error)|temporarily (?:deferred|rejected|"
    r"unavailable)|message not delivered yet|could not send message for past|greylist|graylist|"
    r"try (?:again )?later|\bdeferred\b|\(delay\)|delay notification|verzögert|retardée|"
    r"retrasad|vertraagd|atrasad|ritardat|opóźnion",
    re.I,
)
HARD = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address|person)|"
    r"does ?n[o']t exist|address not found|(?:couldn't|could not|can't) be found|"
    r"mailbox (?:unavailable|not found|disabled)|invalid (?:recipient|mailbox|address)|"
    r"recipient (?:address )?rejected|address rejected|not listed in (?:the )?domino directory|"
    r"no mailbox here|unrouteable|unroutable|account (?:has been |is )?disabled|"
    r"no longer (?:active|available|in use)|permanent (?:error|failure|fatal)|failed permanently|"
    r"host or domain name not found|domain not found|recipnotfound|recipientnotfound|"
    r"user not found|unknown recipient|doesn't have an? [\w.-]+ account|bad destination|"
    r"existiert nicht|unbekannt|n'existe pas|"
    r"inconnu|no existe|desconocido|bestaat niet|onbekend|não existe|inexistente|non esiste|"
    r"sconosciuto|nie istnieje",
    re.I,
)

_LABELS = {
    "1.1": "user unknown",
    "1.10": "recipient not found",
    "1.2": "bad destination domain",
    "1.3": "bad destination address syntax",
    "1.6": "mailbox moved",
    "2.1": "mailbox disabled",
    "2.2": "mailbox full",
    "3.0": "mail system error",
    "4.0": "routing problem",
    "4.1": "no answer from host",
    "4.4": "unable to route",
    "4.7": "delivery time expired",
    "7.0": "rejected by policy",
    "7.1": "delivery not authorized",
    "7.26": "authentication failed",
}


def describe(code: str) -> str:
    """``5.1.1`` -> ``5.1.1 user unknown``."""
    if code.startswith("4"):
        return f"{code} temporary failure"
    detail = code.split(".", 1)[1] if "." in code else ""
    return f"{code} {_LABELS.get(detail, 'failure')}"


def first_code(text: str) -> str | None:
    """The first enhanced status code (``5.1.1``) in ``text``, skipping success codes."""
    for match in ENHANCED_CODE.finditer(text):
        if match.group(1) != "2":
            return ".".join(match.groups())
    return None


def judge(text: str, *, code: str | None = None, delayed: bool = False) -> tuple[BounceKind, str]:
    """Hard or soft for a failure described by ``text`` (and a DSN ``code`` when known)."""
    code = code or first_code(text)
    if QUOTA.search(text) or (code is not None and code.endswith(".2.2")):
        return "soft", f"{code} mailbox full" if code else "mailbox full"
    if delayed:
        return "soft", f"delayed, {describe(code)}" if code else "delayed, will retry"
    if code is not None:
        return ("hard" if code.startswith("5") else "soft"), describe(code)
    delay = DELAY.search(text)
    if delay:
        return "soft", delay.group(0).lower()
    hard = HARD.search(text)
    if hard:
        return "hard", hard.group(0).lower()
    basic = _BASIC_CODE.search(text)
    if basic:
        severity: BounceKind = "hard" if basic.group(1) == "5" else "soft"
        return severity, f"SMTP {basic.group(0).strip().strip(':(#[')}"
    return "hard", "undeliverable"
