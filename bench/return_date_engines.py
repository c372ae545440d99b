"""Return dates: the hand-written rules (return_date.py) against dateparser, on the labels.

``python bench/return_date_engines.py`` needs ``pip install dateparser`` (it is not a
dependency). Both engines read the same text (subject and the notice's own words) of every
auto reply labelled with a return date in tests/fixtures/inbound/manifest.toml; dateparser
finds the dates and return_date.py's scoring ("back on", "until") picks one, so only the date
reading differs. Also times both on hostile input (a long run of dates and digits).
"""

from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cadence.inbound.classification import return_date  # noqa: E402
from cadence.inbound.classification.mime_text import body_text, header, parse  # noqa: E402
from cadence.inbound.classification.reply_text import strip_quoted  # noqa: E402
from tests.unit.inbound.classification.labelled import RECEIVED_AT, load_samples  # noqa: E402


def with_dateparser(text: str, today: datetime.date) -> datetime.date | None:
    from dateparser.search import search_dates

    base = datetime.datetime.combine(today, datetime.time(9, 30))
    found = (
        search_dates(text, settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future"}) or []
    )
    mentions = []
    cursor = 0
    for words, when in found:
        start = text.find(words, cursor)
        if start < 0:
            continue
        cursor = start + len(words)
        mentions.append(return_date._Mention(start, cursor, when.date()))
    scored = [(return_date._score(text, mention), mention) for mention in mentions]
    scored = [(score, mention) for score, mention in scored if score > 0]
    if scored:
        return max(scored, key=lambda item: (item[0], item[1].start))[1].date
    upcoming = [mention.date for mention in mentions if mention.date >= today]
    return max(upcoming) if upcoming else None


def main() -> None:
    today = RECEIVED_AT.date()
    cases = []
    for sample in load_samples():
        if sample.return_date is None:
            continue
        msg = parse(sample.raw)
        text = f"{header(msg, 'Subject')}\n{strip_quoted(body_text(msg))}"
        cases.append((sample, text))
    print(f"{'engine':<12} {'right':>9} {'ms total':>9}")
    for name, engine in (
        ("rules", lambda text: return_date.find_return_date(text, today=today)),
        ("dateparser", lambda text: with_dateparser(text, today)),
    ):
        started = time.perf_counter()
        answers = [(sample, engine(text)) for sample, text in cases]
        elapsed = (time.perf_counter() - started) * 1000
        right = sum(1 for sample, got in answers if got == sample.return_date)
        print(f"{name:<12} {right:>4}/{len(cases):<4} {elapsed:>9.0f}")
        for sample, got in answers:
            if got != sample.return_date:
                print(f"    {sample.file}: {got} (label {sample.return_date})")
    hostile = "back on 12.3. until 3 March 2027 " * 600 + "1" * 20_000
    for name, engine in (
        ("rules", lambda text: return_date.find_return_date(text, today=today)),
        ("dateparser", lambda text: with_dateparser(text, today)),
    ):
        started = time.perf_counter()
        engine(hostile[:20_000])
        print(f"hostile 20,000 characters, {name}: {(time.perf_counter() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
