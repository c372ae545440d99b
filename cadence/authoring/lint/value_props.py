"""Does a rendered message cite one of the configured value propositions?

A message cites a value proposition when, ignoring case, punctuation and apostrophe style:
- it contains one of its quantities: a number with a unit, currency or the word after it
  ("40%" = "40 percent", "$2M", "12 hours" = "12 hour"); a bare number is not distinctive; or
- it contains every content word of it (three letters or more, minus stop words and generic
  verbs such as "cut" or "reduce"), compared on a rough stem (a plural "s" dropped, then the
  first six letters), so "onboarding time" is cited by "the time it takes to onboard".
Each string passed in is tried on its own, so callers can pass a statement and its keywords.
"""

import re
from collections.abc import Iterable, Sequence

from cadence.authoring.lint.text import normalize

_QUANTITY = re.compile(
    r"([$€£¥]?)(\d+(?:[.,]\d+)*)\s*(%|percent\b|per cent\b|x\b|×|k\b|m\b|bn\b|[^\W\d_]+)?"
)
_WORD = re.compile(r"[^\W\d_]+")
_STOP_WORDS = (
    "a an the and or of to in on for with by at from as via into over under than per more less "
    "our your you we us it its is are be was were this that their them they his her by up down "
    "cut cuts save saves saving reduce reduces increase increases improve improves boost boosts "
    "get gets make makes help helps lower lowers raise raises grow grows faster better"
)
_STOP = frozenset(_STOP_WORDS.split())
_UNITS = {"percent": "%", "per cent": "%", "×": "x"}


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s"):
        word = word[:-1]
    return word[:6]


def _quantities(text: str) -> set[str]:
    out: set[str] = set()
    for currency, number, unit in _QUANTITY.findall(text):
        if not (currency or unit):
            continue
        number = number.replace(",", "")
        out.add(currency + number + (_UNITS.get(unit) or _stem(unit)))
    return out


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text)}


def cites(message: str, value_propositions: Sequence[str]) -> bool:
    """True when the message cites at least one of the value propositions."""
    text = normalize(message)
    if not text:
        return False
    quantities = _quantities(text)
    stems = _stems(text)
    return any(_cites_one(normalize(vp), quantities, stems) for vp in value_propositions)


def _cites_one(vp: str, quantities: set[str], stems: Iterable[str]) -> bool:
    if not vp:
        return False
    if _quantities(vp) & quantities:
        return True
    content = {_stem(w) for w in _WORD.findall(vp) if len(w) >= 3 and w not in _STOP}
    return bool(content) and content <= set(stems)
