"""Which days count as business days for a prospect: weekends and their country's holidays.

Pure: the ``holidays`` package is static data, looked up and cached per country and year.
"""

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays


@dataclass(frozen=True)
class BusinessCalendar:
    """Monday to Friday minus the public holidays of ``country`` (ISO 3166 alpha-2).

    An unknown or missing country falls back to weekends only, so a prospect without a
    country is still scheduled rather than rejected.
    """

    country: str | None = None
    subdivision: str | None = None

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday_name(day) is None

    def holiday_name(self, day: date) -> str | None:
        if not self.country:
            return None
        table = _holidays_for(self.country, self.subdivision, day.year)
        name = table.get(day) if table is not None else None
        return str(name) if name else None


@lru_cache(maxsize=1024)
def _holidays_for(country: str, subdivision: str | None, year: int) -> dict[date, str] | None:
    try:
        table = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        return None
    return dict(table)
