"""Countries and time zones from the IANA database shipped with ``tzdata``.

Used to validate imported prospects and to guess a country (for public holidays) from a
time zone when the CSV gives none.
"""

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


def valid_zone(name: str) -> bool:
    if name not in _zones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
