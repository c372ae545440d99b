"""How the pages are rendered: a plain Jinja environment with autoescape on (not marketing's
sandbox: these templates are ours, the data in them is not), and the filters that show times
in UTC or in the prospect's own zone. Every response carries the web process's security
headers (:mod:`cadence.web.headers`), whose policy allows no script."""

from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from cadence.core.geography import time_zone


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("cadence.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _utc
    env.filters["local"] = _local
    env.filters["pct"] = lambda value: f"{100 * float(value):.1f}%"
    return env


def render(name: str, **values: Any) -> str:
    return _environment().get_template(name).render(**values)


def _utc(value: datetime | None) -> str:
    return value.strftime("%a %d %b %Y %H:%M UTC") if value else ""


def _local(value: datetime | None, zone: str) -> str:
    """The prospect's wall-clock time: send windows are in it, so that is what to read."""
    if value is None:
        return ""
    try:
        return value.astimezone(time_zone(zone)).strftime("%a %d %b %H:%M %Z")
    except (KeyError, ValueError):
        return ""
