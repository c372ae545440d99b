"""Subject-line checks: a missing, long, shouting or falsely "Re:" subject hurts opens."""

import re

from cadence.authoring.lint.rules import LintRules

_FAKE_REPLY = re.compile(r"^\s*(?:re|fwd?|aw|wg|sv|tr)\s*:", re.IGNORECASE)
_SHOUT_PUNCTUATION = re.compile(r"[!?\uff01\uff1f]{2,}")
_CAPS_WORD = re.compile(r"\b[^\W\d_]{4,}\b")


def subject_problems(kind: str, subject: str, rules: LintRules) -> list[tuple[str, str, int]]:
    """(rule, message, weight) for one rendered subject; weight ranks samples when merged.

    A bump may have no subject (it keeps the thread's) and may start with "Re:".
    """
    subject = " ".join(subject.split())
    if not subject:
        if kind in rules.subject_required_kinds:
            return [("empty-subject", f"A {kind} starts a thread: give it a subject.", 0)]
        return []
    problems: list[tuple[str, str, int]] = []
    size = len(subject)
    if size > rules.subject_max_chars:
        message = (
            f"The subject is {size} characters; keep it under {rules.subject_max_chars} "
            "so it is not cut off on a phone."
        )
        problems.append(("subject-too-long", message, size))
    if is_shouting(subject):
        message = "The subject shouts (capitals or “!!”); write it the way a colleague would."
        problems.append(("shouty-subject", message, 0))
    if kind != "bump" and _FAKE_REPLY.match(subject):
        message = "The subject pretends to be a reply or forward (“Re:”, “Fwd:”); drop the prefix."
        problems.append(("fake-reply-subject", message, 0))
    return problems


def is_shouting(subject: str) -> bool:
    """Repeated "!"/"?", all capitals, or two all-capital words of four letters or more.

    Acronyms (ROI, IBM) are short, so they do not count.
    """
    if _SHOUT_PUNCTUATION.search(subject):
        return True
    cased = [c for c in subject if c.isupper() or c.islower()]
    if len(cased) >= 8 and not any(c.islower() for c in cased):
        return True
    return sum(1 for w in _CAPS_WORD.findall(subject) if w.isupper()) >= 2
