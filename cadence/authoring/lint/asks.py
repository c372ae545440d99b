"""Find the asks in a rendered message: questions to the reader and calls to action.

Asks are counted by sentence, not by mark: "Free Tuesday? Or Wednesday?" is two sentences and
two asks, while "Worth a chat? https://cal.com/ann" is one. A sentence is an ask when it
- ends with a question mark that is not inside quotation marks, and is not rhetorical: it
  matches no rhetorical pattern, and it is not a long impersonal wh-question: one opening with
  why/what/how/who/which/where/when, longer than ``short_question_words`` words, naming neither
  reader nor writer ("Why do most onboarding projects slip?"); or
- opens a sentence or clause with an ask opener ("Book a time", "Hi Ann, grab 15 minutes"),
  optionally softened ("just", "please", "feel free to"...); or
- matches an ask pattern anywhere ("let me know", a calendar link...).
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from cadence.authoring.lint.rules import compiled
from cadence.authoring.lint.text import normalize, phrase_pattern, sentences

# Words that soften an opener without changing that it asks for something.
_SOFTENERS = (
    r"just|simply|please|kindly|feel free to|happy to|so|or|and|then|you can|why not|"
    r"want to|let's|lets|hit|do"
)
_CLAUSE_START = rf"(?:^|[,;:\u2014\u2013(]\s*|\s-\s*)(?:(?:{_SOFTENERS})\s+)*"
_PERSON = re.compile(r"\b(?:you|your|yours|you're|you'd|you'll|we|us|our|let's|i|i'd|i'm|me)\b")
_WH = re.compile(r"(?:why|what|how|who|which|where|when)\b")
_WORDY = re.compile(r"[^\W_]")
_TRAILING = frozenset(")]}!.\u00a0 \t")


@dataclass(frozen=True)
class Ask:
    sentence: str  # as rendered, for the message
    key: str  # the phrase that made it an ask, used to find its source line ("" for questions)


@cache
def _openers(openers: tuple[str, ...]) -> re.Pattern[str] | None:
    if not openers:
        return None
    alternatives = "|".join(phrase_pattern(o).pattern for o in sorted(openers, key=len)[::-1])
    return re.compile(rf"{_CLAUSE_START}(?:{alternatives})", re.IGNORECASE)


def is_question(sentence: str) -> bool:
    """Ends with "?" (ignoring closing brackets, "!" and emoji), not inside a quotation."""
    text = sentence.rstrip()
    while text and (text[-1] in _TRAILING or unicodedata.category(text[-1]) in {"So", "Sk", "Cf"}):
        text = text[:-1]
    # A closing quote stays: '..."How fast is it?"' quotes a question somebody else asked.
    return bool(text) and text[-1] in "?\uff1f"


def find_asks(
    text: str,
    *,
    openers: tuple[str, ...],
    patterns: Sequence[str],
    rhetorical: Sequence[str],
    short_question_words: int,
) -> list[Ask]:
    """The sentences of ``text`` that ask something of the reader, in order."""
    opener_re = _openers(openers)
    found: list[Ask] = []
    for sentence in sentences(text):
        plain = normalize(sentence)
        key = _call_to_action(plain, opener_re, patterns)
        if key is not None:
            found.append(Ask(sentence=sentence, key=key))
        elif is_question(plain) and not _rhetorical(plain, rhetorical, short_question_words):
            found.append(Ask(sentence=sentence, key=""))
    return found


def _call_to_action(
    plain: str, opener_re: re.Pattern[str] | None, patterns: Sequence[str]
) -> str | None:
    if opener_re is not None:
        match = opener_re.search(plain)
        if match:
            return match.group(0).lstrip(",;:\u2014\u2013(- ").strip()
    for pattern in patterns:
        match = compiled(pattern).search(plain)
        if match:
            return match.group(0).strip()
    return None


def _rhetorical(plain: str, rhetorical: Sequence[str], short_question_words: int) -> bool:
    if not _WORDY.search(plain) or any(compiled(p).search(plain) for p in rhetorical):
        return True
    long = len(plain.split()) > short_question_words
    return long and bool(_WH.match(plain)) and not _PERSON.search(plain)
