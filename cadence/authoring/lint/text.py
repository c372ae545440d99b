"""Text plumbing for the template linter: what counts as the message, sentences, source lines.

The linter sees rendered text but must point marketing at a line of the template file, so this
module also maps a rendered snippet back to its most likely source line.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

# Apostrophes and quotes that word processors substitute for the ASCII ones.
_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
_SPACE = re.compile(r"\s+")
# Bounded, so that a line of unclosed "{{" cannot make the search quadratic.
_JINJA = re.compile(r"\{\{.{0,400}?\}\}|\{%.{0,400}?%\}|\{#.{0,400}?#\}")
_WORD = re.compile(r"[^\W_]+")

# "On Tue, 3 Mar 2026 at 09:12, Ann <ann@x.com> wrote:" (Gmail may wrap it over two lines),
# and Outlook's separator: everything below is the earlier thread, not the new message.
_QUOTE_HEADER = re.compile(r"^\s*on\b.{0,300}\bwrote:\s*$", re.IGNORECASE)
_QUOTE_HEADER_START = re.compile(r"^\s*on\b.{0,300}$", re.IGNORECASE)
_QUOTE_HEADER_END = re.compile(r"^.{0,200}\bwrote:\s*$", re.IGNORECASE)
_OUTLOOK_SEPARATOR = re.compile(r"^\s*-{3,}\s*original message\s*-{3,}\s*$", re.IGNORECASE)
_SIGNATURE_DELIMITER = "--"
# A sentence ends at . ! ? (or the full-width ones) followed by space; URLs keep their dots.
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?\uff01\uff1f])|(?<=[.!?\uff01\uff1f][\"')\]\u201d\u2019]))\s+"
)
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2013]|\d{1,2}[.)])\s+")
_URL_ONLY = re.compile(r"^\s*<?(?:https?://|www\.)\S+>?\s*$", re.IGNORECASE)


def normalize(text: str) -> str:
    """Fold case, width, curly apostrophes and runs of whitespace so phrases match as written."""
    folded = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).translate(_QUOTES)
    return _SPACE.sub(" ", folded).strip().casefold()


@cache
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Match a phrase case-insensitively, across line breaks, with any apostrophe style.

    Used on normalized text (where apostrophes are already ASCII) and on raw source lines.
    """
    words = normalize(phrase).split(" ")
    parts = [re.escape(w).replace("'", "['\u2018\u2019\u02bc`\u00b4]") for w in words if w]
    lead = r"(?<!\w)" if parts and parts[0][:1].isalnum() else ""
    trail = r"(?!\w)" if words and words[-1][-1:].isalnum() else ""
    return re.compile(lead + r"\s+".join(parts) + trail, re.IGNORECASE)


@dataclass(frozen=True)
class MessageParts:
    """A rendered body split into what the reader reads as the message and the rest."""

    message: str  # the new text: no quoted thread, no short signature
    signature: str  # below a "-- " line, when short enough to be a signature
    whole: str  # the new text with its signature: what footers are looked for in


def split_message(body: str, max_signature_lines: int) -> MessageParts:
    """Cut the quoted thread and a short signature off a rendered body.

    A signature only counts as one when it has at most ``max_signature_lines`` non-blank lines:
    a "-- " line must not hide a second message from the length check.
    """
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # A ">" line starts the quoted thread only when nothing but quoted lines follows it.
    last_own = max(
        (i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(">")),
        default=-1,
    )
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _OUTLOOK_SEPARATOR.match(line) or (index > last_own and line.lstrip().startswith(">")):
            break
        if _QUOTE_HEADER.match(line):
            break
        wrapped = index + 1 < len(lines) and _QUOTE_HEADER_END.match(lines[index + 1])
        if wrapped and _QUOTE_HEADER_START.match(line) and len(line) + len(lines[index + 1]) < 300:
            break
        kept.append(line)
    for index, line in enumerate(kept):
        if line.rstrip() == _SIGNATURE_DELIMITER:
            signature = kept[index + 1 :]
            if sum(1 for s in signature if s.strip()) <= max_signature_lines:
                message = tidy("\n".join(kept[:index]))
                sig = tidy("\n".join(signature))
                return MessageParts(message=message, signature=sig, whole=tidy("\n".join(kept)))
            break
    message = tidy("\n".join(kept))
    return MessageParts(message=message, signature="", whole=message)


def tidy(text: str) -> str:
    """Text as the reader perceives it: no trailing spaces, no runs of blank lines.

    Jinja's block tags leave blank lines and indentation behind; counting them would make the
    length check punish template structure rather than what the prospect reads.
    """
    out: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()


def sentences(text: str) -> list[str]:
    """Split text into sentences; a bullet or a blank line also ends one.

    Hard-wrapped lines are joined, and a line holding only a link belongs to the sentence before
    it ("Grab a time:" followed by a calendar link is one ask, not two).
    """
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in paragraph.split("\n"):
            if _BULLET.match(line) and current:
                units.append(" ".join(current))
                current = []
            if line.strip():
                current.append(line.strip())
        if current:
            units.append(" ".join(current))
    out: list[str] = []
    for unit in units:
        for piece in _SENTENCE_END.split(unit):
            piece = piece.strip()
            if not piece:
                continue
            if _URL_ONLY.match(piece) and out:
                out[-1] = f"{out[-1]} {piece}"
            else:
                out.append(piece)
    return out


def words(text: str) -> set[str]:
    return set(_WORD.findall(normalize(text)))


class SourceMap:
    """Maps rendered snippets back to lines of the template file, best effort.

    Rendered values (names, companies) are not in the source, so a snippet is placed on the body
    line sharing the most words with it (the earliest on a tie), among the lines where ``key`` (a
    phrase that matched) appears verbatim when there are any; else on the first body line.
    """

    def __init__(self, source: str, body_start_line: int) -> None:
        self.first_body_line = max(body_start_line, 1)
        all_lines = source.splitlines()
        self._lines = [
            (n, _JINJA.sub(" ", all_lines[n - 1]))
            for n in range(self.first_body_line, len(all_lines) + 1)
        ]
        self._words = [words(text) for _, text in self._lines]
        self._text = "\n".join(text for _, text in self._lines)

    def locate(self, snippet: str, key: str = "") -> int:
        candidates = list(range(len(self._lines)))
        if key:
            pattern = phrase_pattern(key)
            hits = [i for i in candidates if pattern.search(self._lines[i][1])]
            if not hits and (match := pattern.search(self._text)):
                # The phrase is wrapped over lines: point at the line it starts on.
                hits = [self._text.count("\n", 0, match.start())]
            candidates = hits or candidates
        wanted = words(snippet)
        best, best_score = (candidates[0] if candidates else -1), 0
        for i in candidates:
            score = sum(len(w) for w in wanted & self._words[i])
            if score > best_score:
                best, best_score = i, score
        if best < 0 or (best_score == 0 and len(candidates) == len(self._lines)):
            return self.first_body_line
        return self._lines[best][0]


def front_matter_line(source: str, body_start_line: int, field: str) -> int:
    """Line of ``field:`` in the front matter, for findings about the subject."""
    pattern = re.compile(rf"^\s*{re.escape(field)}\s*:")
    for number, line in enumerate(source.splitlines()[: max(body_start_line - 1, 0)], start=1):
        if pattern.match(line):
            return number
    return 1
