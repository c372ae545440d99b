"""Countries and time zones from the IANA database shipped with ``tzdata``.

Used to validate imported prospects and to guess a country (for public holidays) from a
time zone when the CSV gives none.
"""

from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def _tab_lines(name: str) -> list[str]:
    text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """ISO 3166 alpha-2 codes known to the time zone database."""
    return frozenset(line.split("\t")[0] for line in _tab_lines("iso3166.tab"))


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    zones: dict[str, str] = {}
    for line in _tab_lines("zone.tab"):
        fields = line.split("\t")
        zones[fields[2]] = fields[0]
    return zones


def country_for_zone(zone: str) -> str | None:
    """The country a zone such as ``Europe/Berlin`` belongs to, when it is unambiguous."""
    return _zone_countries().get(zone)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zones_for_country(country: str) -> tuple[str, ...]:
    """The time zones of a country, most populous first as the database lists them."""
    return tuple(zone for zone, code in _zone_countries().items() if code == country)


@lru_cache(maxsize=512)
def single_clock_zone(country: str) -> str | None:
    """The country's zone when all its zones keep the same clock all year (Germany's
    Berlin and Busingen), else None (the United States)."""
    zones = zones_for_country(country)
    if not zones:
        return None
    probes = [datetime(2026, month, 15, 12, tzinfo=UTC) for month in (1, 4, 7, 10)]
    first = [p.astimezone(time_zone(zones[0])).utcoffset() for p in probes]
    for zone in zones[1:]:
        if [p.astimezone(time_zone(zone)).utcoffset() for p in probes] != first:
            return None
    return zones[0]


def valid_zone(name: str) -> bool:
    if name not in _zones():
        return False
    try:
        time_zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=1024)
def time_zone(name: str) -> ZoneInfo:
    """``ZoneInfo(name)``, kept: zoneinfo holds only the last 8 zones asked for, so with more
    (13 in the 10,000-prospect demo) each touch read its zone's file from disk again."""
    return ZoneInfo(name)
