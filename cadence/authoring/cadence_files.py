"""Parse cadence files (``config/cadences/*.toml``) into :class:`CadenceDefinition` values.

Every error names the file, the step and the field, so marketing can fix it without reading
code. Template kinds are looked up through ``template_kinds`` so a step naming an unknown
template is caught at load time, not when the touch falls due.
"""

import re
import tomllib
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from cadence.core.domain import (
    WEEKDAYS,
    CadenceDefinition,
    Delay,
    ReplyPolicy,
    SendWindow,
    Stage,
    Step,
    TemplateKind,
    Thread,
)
from cadence.core.errors import DefinitionError

_DELAY = re.compile(r"\s*(\d{1,4})\s*([dhm])\s*")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_CADENCE_KEYS = {
    "name",
    "description",
    "send_window",
    "business_days",
    "on_reply",
    "on_complete",
    "min_stage",
    "steps",
}
MAX_VARIANTS = 5
#: A cadence longer than this is a mistake (or an attempt to mail one prospect for ever).
MAX_STEPS = 30
#: The longest delay between two steps, in days (business days where the cadence says so).
MAX_DELAY_DAYS = 365
_STEP_KEYS = {"template", "delay", "thread", "send_window"}


def parse_delay(text: object) -> Delay:
    if not isinstance(text, str):
        raise ValueError('delay must be a string such as "3d", "4h" or "30m"')
    match = _DELAY.fullmatch(text)
    if not match:
        raise ValueError(f'delay {text!r} is not Nd, Nh or Nm (for example "3d")')
    amount, unit = int(match[1]), match[2]
    per_day = {"d": 1, "h": 24, "m": 24 * 60}[unit]
    if amount > MAX_DELAY_DAYS * per_day:
        raise ValueError(
            f"delay {text!r} is over the limit of {MAX_DELAY_DAYS} days "
            f"({MAX_DELAY_DAYS * per_day}{unit})"
        )
    if unit == "d":
        return Delay(days=amount)
    return Delay(duration=timedelta(hours=amount) if unit == "h" else timedelta(minutes=amount))


def parse_clock(text: object, field: str) -> time:
    if not isinstance(text, str) or not _CLOCK.fullmatch(text):
        raise ValueError(f'{field} must be a 24-hour "HH:MM" time, got {text!r}')
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def parse_send_window(data: object) -> SendWindow:
    if not isinstance(data, Mapping):
        raise ValueError('send_window must be a table: { start = "07:30", end = "09:30" }')
    unknown = set(data) - {"start", "end", "days"}
    if unknown:
        raise ValueError(f"send_window has unknown keys: {', '.join(sorted(unknown))}")
    days_raw = data.get("days", list(WEEKDAYS[:5]))
    if not isinstance(days_raw, list) or not days_raw:
        raise ValueError('send_window.days must be a list such as ["mon", "tue"]')
    days = set()
    for day in days_raw:
        if not isinstance(day, str) or day.lower()[:3] not in WEEKDAYS:
            raise ValueError(f"send_window.days: {day!r} is not a weekday (mon … sun)")
        days.add(WEEKDAYS.index(day.lower()[:3]))
    start = parse_clock(data.get("start"), "send_window.start")
    end = parse_clock(data.get("end"), "send_window.end")
    if end <= start:
        raise ValueError("send_window.end must be later than send_window.start")
    return SendWindow(start=start, end=end, days=frozenset(days))


def parse_cadence(
    data: Mapping[str, Any], *, source: str, template_kinds: Mapping[str, TemplateKind]
) -> CadenceDefinition:
    """Build a cadence from parsed TOML; raises :class:`DefinitionError` naming the field."""

    def fail(where: str, why: str) -> DefinitionError:
        return DefinitionError(f"{source}: {where}: {why}")

    unknown = set(data) - _CADENCE_KEYS
    if unknown:
        raise fail("cadence", f"unknown keys {', '.join(sorted(unknown))}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise fail("name", "required; lower-case letters, digits, '-' or '_'")
    try:
        window = parse_send_window(data.get("send_window", {"start": "07:30", "end": "09:30"}))
    except ValueError as exc:
        raise fail("send_window", str(exc)) from exc
    business_days = data.get("business_days", True)
    if not isinstance(business_days, bool):
        raise fail("business_days", "must be true or false")
    try:
        on_reply = ReplyPolicy(data.get("on_reply", "halt"))
    except ValueError as exc:
        raise fail("on_reply", 'must be "halt" or "halt_account"') from exc
    on_complete = data.get("on_complete")
    if on_complete is not None and not isinstance(on_complete, str):
        raise fail("on_complete", "must be the name of another cadence")
    min_stage = data.get("min_stage")
    try:
        stage = Stage(min_stage) if min_stage is not None else None
    except ValueError as exc:
        raise fail("min_stage", f"must be one of {', '.join(s.value for s in Stage)}") from exc
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail("steps", "a cadence needs at least one [[steps]] table")
    if len(raw_steps) > MAX_STEPS:
        raise fail("steps", f"{len(raw_steps)} steps; a cadence has at most {MAX_STEPS}")
    steps = tuple(
        _parse_step(number, raw, template_kinds, fail)
        for number, raw in enumerate(raw_steps, start=1)
    )
    description = data.get("description", "")
    return CadenceDefinition(
        name=name,
        description=description if isinstance(description, str) else "",
        steps=steps,
        send_window=window,
        business_days=business_days,
        on_reply=on_reply,
        on_complete=on_complete,
        min_stage=stage,
        source=source,
    )


def _parse_step(
    number: int,
    raw: object,
    template_kinds: Mapping[str, TemplateKind],
    fail: Any,
) -> Step:
    where = f"step {number}"
    if not isinstance(raw, Mapping):
        raise fail(where, "must be a [[steps]] table")
    unknown = set(raw) - _STEP_KEYS
    if unknown:
        raise fail(where, f"unknown keys {', '.join(sorted(unknown))}")
    named = raw.get("template")
    variants: tuple[str, ...] = ()
    if isinstance(named, list):
        if not 2 <= len(named) <= MAX_VARIANTS or not all(isinstance(n, str) for n in named):
            raise fail(
                f"{where}: template", f"A/B variants are a list of 2 to {MAX_VARIANTS} names"
            )
        if len(set(named)) != len(named):
            raise fail(f"{where}: template", "the same variant is listed twice")
        variants = tuple(named)
    elif not isinstance(named, str) or not named:
        raise fail(f"{where}: template", "required (a template name such as ceo/intro)")
    for name in variants or (str(named),):
        if name not in template_kinds:
            raise fail(f"{where}: template", f"no template named {name!r} in the templates folder")
    template = variants[0] if variants else str(named)
    kind = template_kinds[template]
    if any(template_kinds[v] is not kind for v in variants):
        raise fail(f"{where}: template", "A/B variants must all be the same kind")
    try:
        delay = parse_delay(raw.get("delay", "0d"))
    except ValueError as exc:
        raise fail(f"{where}: delay", str(exc)) from exc
    default_thread = Thread.REPLY if kind is TemplateKind.BUMP else Thread.NEW
    try:
        thread = Thread(raw.get("thread", default_thread.value))
    except ValueError as exc:
        raise fail(f"{where}: thread", 'must be "new" or "reply"') from exc
    if thread is Thread.REPLY and kind.is_task:
        raise fail(f"{where}: thread", "a call or LinkedIn task cannot reply in a thread")
    if thread is Thread.REPLY and number == 1:
        raise fail(f"{where}: thread", "the first step has no earlier email to reply to")
    window = None
    if "send_window" in raw:
        try:
            window = parse_send_window(raw["send_window"])
        except ValueError as exc:
            raise fail(f"{where}: send_window", str(exc)) from exc
    return Step(
        number=number,
        template=template,
        variants=variants,
        kind=kind,
        delay=delay,
        thread=thread,
        send_window=window,
    )


def load_cadence_file(path: Path, template_kinds: Mapping[str, TemplateKind]) -> CadenceDefinition:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path}: not valid TOML: {exc}") from exc
    return parse_cadence(data, source=str(path), template_kinds=template_kinds)
