"""The person's own words in a reply: quoted history and signature removed.

Clients mark history in many ways: an attribution line ("On … wrote:", "Am … schrieb …:"),
an Outlook header block ("From: … Sent: …", localised), separators ("-----Original
Message-----"), ``>`` prefixes, and in HTML the markers left by :mod:`html_text`.
"""

from __future__ import annotations

import re

from cadence.inbound.classification.html_text import QUOTE_MARKER, SIGNATURE_MARKER

_WROTE_VERBS = (
    r"wrote|writes|schrieb|geschrieben|a\s+écrit|a\s+ecrit|escribió|escribio|schreef|escreveu|"
    r"ha\s+scritto|scrisse|pisze|napisał\(a\)|napisał|napisała|skrev|kirjoitti|napsal|napísal|"
    r"írta|написал\(а\)|написал|написала|yazdı|a\s+scris|έγραψε"
)
# An attribution line ends with the verb (and maybe a name or address) and a colon.
_ATTRIBUTION = re.compile(
    rf"^\s*(?:[-–—]+\s*)?.{{0,300}}?\b(?:{_WROTE_VERBS})\b[^\n]{{0,200}}?:\s*$", re.I | re.S
)
_ATTRIBUTION_START = re.compile(
    r"^\s*(?:on|am|le|el|op|em|il|w\s+dniu|dnia|den|d\.|el\s+día|в|le\s+\w+\.?)\b", re.I
)
_DIGIT = re.compile(r"\d")
# Old Gmail: "2027-03-03 10:00 GMT+01:00 Ann Lee <ann@example.com>:"
_DATED_ATTRIBUTION = re.compile(r"^\d{4}-\d\d-\d\d\b.{0,200}@.{0,120}:\s*$")
_SEPARATORS = re.compile(
    r"^\s*[-_=*\s]*(?:original\s+message|ursprüngliche\s+nachricht|originalnachricht|"
    r"message\s+d'origine|message\s+original|mensaje\s+original|oorspronkelijk\s+bericht|"
    r"originele\s+bericht|mensagem\s+original|messaggio\s+originale|wiadomość\s+oryginalna|"
    r"oryginalna\s+wiadomość|ursprungligt\s+meddelande|oprindelig\s+meddelelse|"
    r"opprinnelig\s+melding|alkuperäinen\s+viesti|původní\s+zpráva|исходное\s+сообщение|"
    r"forwarded\s+message|weitergeleitete\s+nachricht|message\s+transféré|"
    r"mensaje\s+reenviado|doorgestuurd\s+bericht|mensagem\s+encaminhada|"
    r"messaggio\s+inoltrato|wiadomość\s+przekazana|reply\s+message)\s*[-_=*\s]*$",
    re.I,
)
_BEGIN_FORWARD = re.compile(r"^\s*(?:begin\s+forwarded\s+message|anfang\s+der\s+weiter)", re.I)
_REPLY_ABOVE = re.compile(
    r"^\s*#*\s*(?:please\s+)?(?:type\s+your\s+)?reply\s+above\s+this\s+line", re.I
)
_FROM_KEYS = r"from|von|de|van|da|od|från|fra|fr[aå]n|lähettäjä|от|kimden|feladó"
_OTHER_KEYS = (
    r"sent|date|to|subject|cc|gesendet|datum|an|betreff|envoyé|date|à|objet|enviado|enviada\s+em|"
    r"fecha|para|asunto|verzonden|aan|onderwerp|assunto|data|inviato|a|oggetto|wysłano|wysłane|"
    r"do|temat|skickat|till|ämne|sendt|til|emne|lähetetty|vastaanottaja|aihe|отправлено|кому|"
    r"тема|gönderildi|kime|konu|elküldve|címzett|tárgy"
)
_HEADER_FROM = re.compile(rf"^\s*[*_]{{0,2}}(?:{_FROM_KEYS})\s*:[*_]{{0,2}}\s*\S", re.I)
_HEADER_OTHER = re.compile(rf"^\s*[*_]{{0,2}}(?:{_OTHER_KEYS})\s*:[*_]{{0,2}}\s*", re.I)
_RULE = re.compile(r"^\s*[_\-=—–]{8,}\s*$")

_MOBILE_FOOTER = re.compile(
    r"^\s*(?:sent\s+(?:from|with|via|using)\s+(?:my\s+)?\S.{0,60}|get\s+outlook\s+for\s+\S+.*|"
    r"(?:von\s+meinem\s+\S.{0,40}\s+gesendet|gesendet\s+(?:von|mit)\s+\S.{0,50})|"
    r"envoyé\s+(?:de|depuis)\s+(?:mon\s+)?\S.{0,50}|"
    r"enviado\s+(?:desde|de|do|a\s+partir\s+do)\s+(?:mi|meu|o\s+meu|my)?\s*\S.{0,50}|"
    r"(?:verzonden|verstuurd)\s+(?:vanaf|met|van)\s+(?:mijn\s+)?\S.{0,50}|"
    r"inviato\s+da\s+\S.{0,50}|wysłane\s+z\s+\S.{0,50}|wysłano\s+z\s+\S.{0,50}|"
    r"skickat\s+från\s+\S.{0,50}|sendt\s+fra\s+\S.{0,50}|отправлено\s+с\s+\S.{0,50})\s*$",
    re.I,
)
_SIGN_OFF = re.compile(
    r"^\s*(?:[-–—]\s*)?(?i:best(?:\s+regards|\s+wishes)?|kind\s+regards|warm(?:est)?\s+regards|"
    r"regards|many\s+thanks|thanks(?:\s+(?:again|so\s+much|a\s+lot))?|thank\s+you|thx|cheers|"
    r"sincerely|yours(?:\s+(?:truly|sincerely))?|all\s+the\s+best|talk\s+soon|br|rgds|"
    r"mit\s+freundlichen\s+grüßen|mit\s+freundlichen\s+grüssen|freundliche\s+grüße|"
    r"viele\s+grüße|viele\s+grüsse|beste\s+grüße|beste\s+grüsse|liebe\s+grüße|herzliche\s+grüße|"
    r"schöne\s+grüße|grüße|grüsse|gruß|gruss|mfg|lg|vg|danke|vielen\s+dank|"
    r"cordialement|bien\s+cordialement|bien\s+à\s+vous|salutations|meilleures\s+salutations|"
    r"merci(?:\s+beaucoup)?|bonne\s+journée|amitiés|"
    r"saludos(?:\s+cordiales)?|un\s+saludo|atentamente|un\s+abrazo|gracias|muchas\s+gracias|"
    r"met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groet(?:en|jes)?|mvg|"
    r"hartelijke\s+groet(?:en)?|bedankt|dank\s+je(?:\s+wel)?|"
    r"atenciosamente|abraços?|att\.?|cumprimentos|obrigad[oa]|melhores\s+cumprimentos|"
    r"cordiali\s+saluti|distinti\s+saluti|saluti|un\s+saluto|grazie(?:\s+mille)?|"
    r"pozdrawiam(?:\s+serdecznie)?|z\s+poważaniem|pozdrowienia|dzięki|dziękuję|"
    r"med\s+vänliga\s+hälsningar|mvh|hälsningar|med\s+venlig\s+hilsen)"
    r"\s*(?:[,.!:;–-]+\s*(?:[A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻ][\w.'-]*(?:\s+[A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻ][\w.'-]*){0,2})?)?"
    r"\s*$"
)
_MAX_SIGNATURE_LINES = 14


def _attribution_at(lines: list[str], index: int) -> bool:
    """Whether an attribution line ("On … wrote:") starts at ``index``, maybe wrapped."""
    first = lines[index].lstrip("> ").strip()
    if not first or len(first) > 400:
        return False
    for span in (1, 2, 3):
        if index + span > len(lines):
            break
        joined = " ".join(line.lstrip("> ").strip() for line in lines[index : index + span])
        if len(joined) > 500:
            break
        if not _ATTRIBUTION.match(joined):
            continue
        if _ATTRIBUTION_START.match(first):
            return True
        if span == 1 and ("@" in joined or _DIGIT.search(joined)):
            return True
        if span > 1 and _DIGIT.search(first) and not first.endswith((".", "!", "?")):
            return True
    return bool(_DATED_ATTRIBUTION.match(first))


def _header_block_at(lines: list[str], index: int) -> bool:
    """Whether an Outlook-style "From: … Sent: … To: … Subject:" block starts at ``index``."""
    if not _HEADER_FROM.match(lines[index]):
        return False
    others = sum(1 for line in lines[index + 1 : index + 7] if _HEADER_OTHER.match(line))
    return others >= 2


def quote_start(lines: list[str]) -> int | None:
    """The index of the first line of quoted history, or None."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped in (QUOTE_MARKER,) or _SEPARATORS.match(line) or _BEGIN_FORWARD.match(line):
            return index
        if _REPLY_ABOVE.match(line):
            return index
        if _RULE.match(line) and index + 1 < len(lines):
            following = next((other for other in lines[index + 1 : index + 3] if other.strip()), "")
            if _HEADER_FROM.match(following) or _HEADER_OTHER.match(following):
                return index
        if _header_block_at(lines, index) or _attribution_at(lines, index):
            return index
    return None


def _unquoted(lines: list[str]) -> list[str]:
    """Lines without ``>`` quotes, nor the attribution lines that introduce them."""
    kept: list[str] = []
    following = ""  # the next non-empty line, walking from the end
    for line in reversed(lines):
        quoted = line.lstrip().startswith(">")
        introduces_quote = following.lstrip().startswith(">") and _ATTRIBUTION.match(line.strip())
        if not quoted and not introduces_quote:
            kept.append(line)
        if line.strip():
            following = line
    kept.reverse()
    return kept


def strip_quoted(text: str) -> str:
    """``text`` without the quoted history below or between the person's own lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = quote_start(lines)
    own = _tidy(_unquoted(lines[:start] if start is not None else lines), keep_markers=True)
    if own.replace(SIGNATURE_MARKER, "").strip() or start is None:
        return own
    # Answers written between quoted lines, below the attribution: keep them.
    rest = lines[start + 1 :]
    end = quote_start(rest)
    return _tidy(_unquoted(rest[:end] if end is not None else rest), keep_markers=True)


def _signature_start(lines: list[str], sender_name: str) -> int | None:
    names = {part.lower() for part in re.split(r"[\s,]+", sender_name) if len(part) > 1}
    full_name = " ".join(sender_name.split()).lower()
    content_seen = False
    # remaining_after[i]: non-empty lines from line i on, counted once rather than per line.
    remaining_after = [0] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        remaining_after[index] = remaining_after[index + 1] + (1 if lines[index].strip() else 0)
    for index, line in enumerate(lines):
        stripped = line.strip()
        remaining = remaining_after[index + 1]
        if stripped == SIGNATURE_MARKER or stripped in ("--", "-- ", "—") or line == "-- ":
            return index if content_seen else None
        if len(stripped) <= 70 and _MOBILE_FOOTER.match(stripped):
            return index
        if content_seen and _SIGN_OFF.match(stripped) and remaining <= _MAX_SIGNATURE_LINES:
            return index
        bare = stripped.lstrip("-–— ").rstrip(".,").lower()
        if (
            content_seen
            and bare
            and (bare == full_name or bare in names)
            and remaining <= _MAX_SIGNATURE_LINES
        ):
            return index
        if stripped:
            content_seen = True
    return None


def strip_signature(text: str, sender_name: str = "") -> str:
    """``text`` without its sign-off, signature block or mobile footer."""
    lines = text.split("\n")
    start = _signature_start(lines, sender_name)
    if start is None:
        return _tidy(lines)
    kept = _tidy(lines[:start])
    return kept if kept else _tidy(lines)


def own_words(text: str, sender_name: str = "") -> str:
    """The person's own words: quoted history first, then the signature, removed."""
    return strip_signature(strip_quoted(text), sender_name)


def _tidy(lines: list[str], *, keep_markers: bool = False) -> str:
    text = "\n".join(
        line.rstrip() for line in lines if keep_markers or line.strip() != SIGNATURE_MARKER
    )
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
