"""Challenge-response requests: "verify you are human", "add yourself to my guest list".

Boxbe, SpamArrest, Mailblocks and ISPs' sender verification hold our message until a person
passes a check. It is neither a bounce (the address works, the message waits) nor a reply
(nobody read it), and it often comes from a daemon with a "not delivered" subject, so it is
recognised before bounces and auto replies are.
"""

from __future__ import annotations

import re

_CHALLENGE = re.compile(
    r"verify (?:that )?you are (?:a )?(?:human|real person|not a (?:robot|spammer))|"
    r"confirm (?:that )?you are (?:a )?(?:human|real person)|"
    r"prove (?:that )?you(?: are|'re) (?:a )?human|"
    r"(?:added|add yourself|be added) to (?:my|the|our|his|her) (?:list of )?(?:approved senders?|"
    r"white ?list|guest ?list|allowed senders?|safe senders?)|"
    r"(?:confirm|verify) (?:that )?you (?:sent|are the sender of) (?:this|the|your) "
    r"(?:message|e-?mail)|click (?:on )?the (?:link|button) below to (?:verify|confirm|deliver|"
    r"release|request approval)|challenge[- ]response|awaiting (?:your )?(?:verification|"
    r"confirmation)|one[- ]time (?:verification|confirmation|inconvenience)|"
    r"\b(?:boxbe|spam ?arrest|mailblocks|choicemail|tmda)\b|"
    r"(?:message|e-?mail) (?:is|has been|was) (?:held|quarantined|pending|waitlisted) (?:until|for|"
    r"awaiting)|your message (?:about .{1,80} )?was waitlisted|"
    r"only (?:accepts?|allows?) (?:incoming )?(?:mail|messages|e-?mail) from (?:senders )?"
    r"(?:on (?:their|my|the) )?(?:white ?list|approved|known|verified)|"
    r"(?:fill out|complete) the (?:short )?(?:request form|verification)",
    re.I,
)


# An SMTP reply in the text makes it a server's refusal ("550 5.7.1 only accepts mail from
# approved senders"), which is a bounce, not a check a person can pass.
_SMTP_REPLY = re.compile(r"(?<![\d.])[45]\.\d{1,3}\.\d{1,3}(?![\d.])|^\s*[45]\d\d[ -]", re.M)


def challenge_reason(subject: str, text: str) -> str | None:
    """Why the message asks us to pass a check by hand, or None; ``text`` is its own words
    (the copy of our message already cut off)."""
    top = text[:3_000]
    if _SMTP_REPLY.search(top):
        return None
    match = _CHALLENGE.search(top) or _CHALLENGE.search(subject)
    return f"challenge-response: {match.group(0).lower()}" if match else None
