"""When an out-of-office sender is back, read from the notice's own words.

Every date in the text is a candidate; the one after "back on", "zurück am", "de retour le"
(or, failing that, "until", "bis", "jusqu'au") wins. Dates without a year, weekdays and
"tomorrow" resolve against the day the notice was received, never against the real clock.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar jänner janvier janv enero ene januari janeiro gennaio gen styczeń "
        "stycznia sty",
        "february feb februar février fevrier févr fevr fév febrero februari fevereiro fev "
        "febbraio luty lutego lut",
        "march mar märz maerz mär mars marzo maart mrt março marco marzec marca",
        "april apr avril avr abril aprile kwiecień kwietnia kwi",
        "may mai mayo mei maio maggio mag maj maja",
        "june jun juni juin junio junho giugno giu czerwiec czerwca cze",
        "july jul juli juillet juil julio julho luglio lug lipiec lipca lip",
        "august aug août aout agosto augustus sierpień sierpnia",
        "september sep sept septembre septiembre setiembre setembro settembre wrzesień "
        "września wrz",
        "october oct oktober okt octobre octubre oct outubro ottobre ott październik "
        "października paź",
        "november nov novembre noviembre novembro listopad listopada lis",
        "december dec dezember dez décembre decembre déc diciembre dic dezembro dicembre "
        "grudzień grudnia gru",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number
_MORE_MONTHS: dict[int, str] = {
    1: "janvāris janvārī janvāra januar januari tammikuuta ledna leden января январь ocak",
    2: "februāris februārī februāra februari helmikuuta února únor февраля февраль şubat",
    3: "marts martā marta mars maaliskuuta března březen марта март mart",
    4: "aprīlis aprīlī aprīļa huhtikuuta dubna duben апреля апрель nisan",
    5: "maijs maijā maija toukokuuta května květen мая май mayıs",
    6: "jūnijs jūnijā jūnija kesäkuuta června červen июня июнь haziran",
    7: "jūlijs jūlijā jūlija heinäkuuta července červenec июля июль temmuz",
    8: "augusts augustā augusta augusti elokuuta srpna srpen августа август ağustos",
    9: "septembris septembrī septembra syyskuuta září сентября сентябрь eylül",
    10: "oktobris oktobrī oktobra lokakuuta října říjen октября октябрь ekim",
    11: "novembris novembrī novembra marraskuuta listopadu ноября ноябрь kasım",
    12: "decembris decembrī decembra desember joulukuuta prosince prosinec декабря декабрь aralık",
}
# Baltic, Nordic, Finnish, Czech, Russian and Turkish month names (nominative and the
# forms dates take: "9. martā", "15. března", "11 марта").
for _number, _names in _MORE_MONTHS.items():
    for _name in _names.split():
        _MONTHS.setdefault(_name, _number)

_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "monday montag lundi lunes maandag segunda-feira segunda lunedì lunedi poniedziałek "
        "poniedziałku",
        "tuesday dienstag mardi martes dinsdag terça-feira terca-feira terça martedì martedi "
        "wtorek wtorku",
        "wednesday mittwoch mercredi miércoles miercoles woensdag quarta-feira mercoledì "
        "mercoledi środa środę środy",
        "thursday donnerstag jeudi jueves donderdag quinta-feira giovedì giovedi czwartek czwartku",
        "friday freitag vendredi viernes vrijdag sexta-feira venerdì venerdi piątek piątku",
        "saturday samstag sonnabend samedi sábado sabado zaterdag sabato sobota sobotę soboty",
        "sunday sonntag dimanche domingo zondag domenica niedziela niedzielę niedzieli",
    )
):
    for _name in _names.split():
        _WEEKDAYS[_name] = _number

_TOMORROW = ("tomorrow", "morgen", "demain", "mañana", "amanhã", "domani", "jutro")

_MONTH_NAMES = "|".join(sorted((re.escape(name) for name in _MONTHS), key=len, reverse=True))
_WEEKDAY_NAMES = "|".join(sorted((re.escape(name) for name in _WEEKDAYS), key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th|er|re|e|º|°|\.)?"

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DOTTED = re.compile(r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.(?:\s?(\d{4}|\d{2})\b)?")
_SLASHED = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])")
_DASHED = re.compile(r"(?<![\d-])(\d{1,2})-(\d{1,2})-(\d{4}|\d{2})(?![\d-])")
_DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}}){_ORDINAL}\s*(?:de\s+|of\s+)?({_MONTH_NAMES})\b\.?"
    r"(?:,?\s*(?:de\s+)?(\d{4})\b)?",
    re.I,
)
_MONTH_DAY = re.compile(
    rf"\b({_MONTH_NAMES})\b\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(\d{{4}})\b)?", re.I
)
# "until the 10th", "back Tuesday 9th": a day of the month without its month.
_DAY_ONLY = re.compile(
    rf"(?:\bthe\s+|(?<!\w)(?:{_WEEKDAY_NAMES}),?\s+(?:the\s+)?)(\d{{1,2}})(?:st|nd|rd|th)\b", re.I
)
# "3月8日", "2027年3月8日" (Japanese, Chinese).
_CJK = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]")
_WEEKDAY = re.compile(rf"(?<!\w)({_WEEKDAY_NAMES})(?!\w)", re.I)
_RELATIVE = re.compile(rf"(?<!\w)({'|'.join(_TOMORROW)})(?!\w)", re.I)

# "From" words ("ab", "à partir du", "vanaf") are left out: they start absences as often as
# they end them; "ab dem 9. März wieder im Büro" is caught by the word after the date.
_RETURN_BEFORE = re.compile(
    r"(?:\bback\b|\breturn|\bin\s+the\s+office\b|\bavailable\b|\breachable\b|zurück|\bwieder\b|"
    r"erreichbar|retour|regres|vuelta|volver[ée]|de\s+nuevo|terug|\bweer\b|bereikbaar|"
    r"\bvolto\b|\bvolta\b|retorn|regresso|rientr|ritorno|di\s+nuovo|wracam|powr[óo]t|"
    r"powrocie|dostępn|ponownie|disponible|disponível|disponibile|atgriez|tilbage|tilbake|"
    r"tillbaka|palaan|vrátím|zpět|верну|выйду|返回|回来|戻)",
    re.I,
)
_UNTIL_BEFORE = re.compile(
    r"(?:\buntil\b|\btill\b|'til\b|\bthrough\b|\bthru\b|\bup\s+to\b|\bbis\b|einschließlich|"
    r"jusqu|\bhasta\b|\btot\b|t/m|\baté\b|\bfino\b|\bdo\b|\bdnia\b|\bto\b|\bau\b|\bal\b|"
    r"\ba\b|[-–—]|\btil\b|\bincluded\b|\binclusive\b|līdz|indtil|t\.o\.m\.|\bдо\b|"
    r"\bpo\b)",
    re.I,
)
_RETURN_AFTER = re.compile(
    r"(?:\bagain\b|\bback\b|\bwieder\b|zurück|de\s+retour|de\s+vuelta|\bterug\b|\bweer\b|"
    r"novamente|di\s+nuovo|ponownie|z\s+powrotem|返回|回到|に戻|より出社|から出社|"
    r"döneceğim|dönüyorum)",
    re.I,
)
# Words after the last day of an absence: "3月8日まで", "10 Mart tarihine kadar", "12.3. asti".
_UNTIL_AFTER = re.compile(r"^\s*(?:まで|までの|\S{0,12}\s*kadar\b|asti\b|saakka\b|之前)", re.I)
_US_SIGNALS = re.compile(r"\b(?:EST|EDT|CST|CDT|MST|MDT|PST|PDT|ET|PT|CT)\b|\bvacation\b")
_ENGLISH = re.compile(r"\b(?:the|and|until|office|will|be|back|return|my|you|your|with)\b", re.I)
_OTHER_LANGUAGE = re.compile(
    r"\b(?:ich|und|bin|nicht|je|suis|le|estoy|hasta|ik|ben|niet|estou|não|sono|fino|jestem|"
    r"się|zurück|retour|terug|volta)\b",
    re.I,
)


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    date: datetime.date


def _resolve(today: datetime.date, month: int, day: int, year: int | None) -> datetime.date | None:
    """The date for day/month, in ``year`` or else the first such date on or after ``today``."""
    if year is not None:
        if year < 100:
            year += 2000
        if not today.year - 1 <= year <= today.year + 3:
            return None
        try:
            return datetime.date(year, month, day)
        except ValueError:
            return None
    for candidate_year in (today.year, today.year + 1):
        try:
            candidate = datetime.date(candidate_year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _next_day_of_month(today: datetime.date, day: int) -> datetime.date | None:
    """The first date on or after ``today`` that falls on the ``day`` of a month."""
    year, month = today.year, today.month
    for _ in range(3):
        try:
            candidate = datetime.date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _numeric_day_first(text: str) -> bool | None:
    """Day-first outside English; month-first for clearly American English; None: unclear."""
    for match in _SLASHED.finditer(text):
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12 >= second:
            return True
        if second > 12 >= first:
            return False
    english = len(_ENGLISH.findall(text)) > len(_OTHER_LANGUAGE.findall(text))
    if not english:
        return True
    if _US_SIGNALS.search(text) or (_MONTH_DAY.search(text) and not _DAY_MONTH.search(text)):
        return False
    return None


def _numeric(
    today: datetime.date, first: int, second: int, year: str | None, day_first: bool | None
) -> datetime.date | None:
    if day_first is not None:
        day, month = (first, second) if day_first else (second, first)
        return _resolve(today, month, day, int(year) if year else None)
    # Unclear English: an absence notice names a date soon after it was sent.
    options = [
        date
        for date in (
            _resolve(today, second, first, int(year) if year else None),
            _resolve(today, first, second, int(year) if year else None),
        )
        if date is not None
    ]
    return min(options, key=lambda date: abs((date - today).days), default=None)


def _mentions(text: str, today: datetime.date) -> list[_Mention]:
    found: list[_Mention] = []
    day_first = _numeric_day_first(text)

    def add(match: re.Match[str], date: datetime.date | None) -> None:
        overlaps = any(match.start() < other.end and other.start < match.end() for other in found)
        if date is not None and not overlaps:
            found.append(_Mention(match.start(), match.end(), date))

    def year(value: str | None) -> int | None:
        return int(value) if value else None

    for match in _ISO.finditer(text):
        add(match, _resolve(today, int(match.group(2)), int(match.group(3)), year(match.group(1))))
    for match in _DAY_MONTH.finditer(text):
        month = _MONTHS[match.group(2).lower()]
        add(match, _resolve(today, month, int(match.group(1)), year(match.group(3))))
    for match in _MONTH_DAY.finditer(text):
        month = _MONTHS[match.group(1).lower()]
        add(match, _resolve(today, month, int(match.group(2)), year(match.group(3))))
    for match in _CJK.finditer(text):
        add(match, _resolve(today, int(match.group(2)), int(match.group(3)), year(match.group(1))))
    for match in _DOTTED.finditer(text):
        add(match, _resolve(today, int(match.group(2)), int(match.group(1)), year(match.group(3))))
    for pattern in (_SLASHED, _DASHED):
        for match in pattern.finditer(text):
            first, second = int(match.group(1)), int(match.group(2))
            add(match, _numeric(today, first, second, match.group(3), day_first))
    for match in _DAY_ONLY.finditer(text):
        add(match, _next_day_of_month(today, int(match.group(1))))
    dated = sorted(found, key=lambda mention: mention.start)
    for match in _WEEKDAY.finditer(text):
        if any(
            abs(match.start() - other.end) < 4 or abs(other.start - match.end()) < 4
            for other in dated
        ):
            continue  # "Monday, 9 March": the full date already counts
        # "Until 10 March, back on Monday": the Monday after the last date named before it.
        earlier = [other.date for other in dated if other.end <= match.start()]
        base = max([today, *earlier[-1:]])
        offset = (_WEEKDAYS[match.group(1).lower()] - base.weekday()) % 7
        found.append(_Mention(match.start(), match.end(), base + datetime.timedelta(offset)))
    return sorted(found, key=lambda mention: mention.start)


def _score(text: str, mention: _Mention) -> int:
    """How surely ``mention`` is the return date: 6 after "back", 5 before "wieder", 4 after
    "until", else 0."""
    before = text[max(0, mention.start - 60) : mention.start]
    near = text[max(0, mention.start - 14) : mention.start]
    after = text[mention.end : mention.end + 20]
    if _RETURN_BEFORE.search(before):
        # "from 1 March until 10 March, back on 11 March": the nearest keyword decides.
        return 4 if _UNTIL_BEFORE.search(near) and not _RETURN_BEFORE.search(near) else 6
    if _RETURN_AFTER.search(after):
        return 5
    if _UNTIL_AFTER.search(after):
        return 4
    if _UNTIL_BEFORE.search(near) or re.search(r"\b(?:until|bis|jusqu|hasta|até|fino)", before):
        return 4
    return 0


def find_return_date(text: str, *, today: datetime.date) -> datetime.date | None:
    """The return date an out-of-office ``text`` states, or None when it states none."""
    text = text[:20_000]
    mentions = _mentions(text, today)
    for match in _RELATIVE.finditer(text):
        mentions.append(_Mention(match.start(), match.end(), today + datetime.timedelta(days=1)))
    scored = [(_score(text, mention), mention) for mention in mentions]
    scored = [(score, mention) for score, mention in scored if score > 0]
    if scored:
        return max(scored, key=lambda item: (item[0], item[1].start))[1].date
    upcoming = [mention.date for mention in _mentions(text, today) if mention.date >= today]
    return max(upcoming) if upcoming else None
