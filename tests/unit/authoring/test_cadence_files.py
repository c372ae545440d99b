"""Cadence files: valid TOML becomes a CadenceDefinition; every malformed file gets a
DefinitionError that names the file, the step and the field."""

import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest

from cadence.authoring.cadence_files import (
    load_cadence_file,
    parse_cadence,
    parse_delay,
    parse_send_window,
)
from cadence.core.domain import Delay, ReplyPolicy, SendWindow, Stage, TemplateKind, Thread
from cadence.core.errors import ConfigurationError, DefinitionError

KINDS = {
    "ceo/intro": TemplateKind.CEO_EMAIL,
    "ceo/bump": TemplateKind.BUMP,
    "tasks/call": TemplateKind.CALL_TASK,
    "tasks/linkedin": TemplateKind.LINKEDIN_TASK,
    "drip/insight": TemplateKind.DRIP,
    "checkin/last": TemplateKind.CHECK_IN,
}
SOURCE = "config/cadences/test.toml"

VALID = """
name = "seven-touch"
description = "Seven touches"
send_window = { start = "07:30", end = "09:30", days = ["mon", "tue", "wed", "thu", "fri"] }
business_days = true
on_reply = "halt_account"
on_complete = "nurture"
min_stage = "mql"

[[steps]]
template = "ceo/intro"
delay = "0d"

[[steps]]
template = "ceo/bump"
delay = "3d"
thread = "reply"

[[steps]]
template = "tasks/call"
delay = "2d"

[[steps]]
template = "drip/insight"
delay = "4h"
send_window = { start = "14:00", end = "16:00", days = ["tue"] }

[[steps]]
template = "checkin/last"
delay = "30m"
"""


def parse(data: dict[str, Any]) -> Any:
    return parse_cadence(data, source=SOURCE, template_kinds=KINDS)


def minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "short",
        "steps": [{"template": "ceo/intro", "delay": "0d"}, {"template": "ceo/bump"}],
    }
    data.update(overrides)
    return data


def with_step(step: dict[str, Any], *, position: int = 2) -> dict[str, Any]:
    """A minimal cadence whose step ``position`` (1-based) is ``step``."""
    steps: list[dict[str, Any]] = [{"template": "ceo/intro"} for _ in range(position - 1)]
    steps.append(step)
    return minimal(steps=steps)


# --- parse_delay -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0d", Delay()),
        ("3d", Delay(days=3)),
        (" 3d ", Delay(days=3)),
        ("12h", Delay(duration=timedelta(hours=12))),
        ("30m", Delay(duration=timedelta(minutes=30))),
        ("365d", Delay(days=365)),
        ("8760h", Delay(duration=timedelta(hours=8760))),
    ],
)
def test_parse_delay(text: str, expected: Delay) -> None:
    assert parse_delay(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        *("3 days", "-1d", "1w", "d", "3", "", "3.5d", "1d2h", "10000d", "3D", 3, None, [3]),
        *("366d", "9999d", "8761h", "9999h", "525601m"),
    ],
)
def test_parse_delay_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="delay"):
        parse_delay(value)


# --- parse_send_window ---------------------------------------------------------------------


def test_parse_send_window() -> None:
    window = parse_send_window({"start": "07:30", "end": "09:30", "days": ["Mon", "friday"]})
    assert window == SendWindow(time(7, 30), time(9, 30), frozenset({0, 4}))


def test_parse_send_window_defaults_to_weekdays() -> None:
    window = parse_send_window({"start": "00:00", "end": "23:59"})
    assert window.days == frozenset(range(5))
    assert window.end == time(23, 59)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": "7:30", "end": "09:30"}, "send_window.start"),
        ({"start": "07:30", "end": "25:00"}, "send_window.end"),
        ({"start": "07:30", "end": "24:00"}, "send_window.end"),
        ({"start": "07:60", "end": "09:30"}, "send_window.start"),
        ({"start": "07:30:00", "end": "09:30"}, "send_window.start"),
        ({"start": 730, "end": "09:30"}, "send_window.start"),
        ({"end": "09:30"}, "send_window.start"),
        ({"start": "09:30", "end": "07:30"}, "end must be later"),
        ({"start": "09:30", "end": "09:30"}, "end must be later"),
        ({"start": "07:30", "end": "09:30", "days": ["mon", "funday"]}, "funday"),
        ({"start": "07:30", "end": "09:30", "days": ["mo"]}, "'mo'"),
        ({"start": "07:30", "end": "09:30", "days": [1]}, "not a weekday"),
        ({"start": "07:30", "end": "09:30", "days": []}, "send_window.days"),
        ({"start": "07:30", "end": "09:30", "days": "mon"}, "send_window.days"),
        ({"start": "07:30", "end": "09:30", "tz": "UTC"}, "unknown keys: tz"),
        ("07:30-09:30", "must be a table"),
    ],
)
def test_parse_send_window_rejects(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_send_window(data)


# --- parse_cadence: valid --------------------------------------------------------------------


def test_valid_cadence() -> None:
    cadence = parse(tomllib.loads(VALID))
    assert cadence.name == "seven-touch"
    assert cadence.description == "Seven touches"
    assert cadence.source == SOURCE
    assert cadence.send_window == SendWindow(time(7, 30), time(9, 30), frozenset(range(5)))
    assert cadence.business_days is True
    assert cadence.on_reply is ReplyPolicy.HALT_ACCOUNT
    assert cadence.on_complete == "nurture"
    assert cadence.min_stage is Stage.MQL
    assert [s.number for s in cadence.steps] == [1, 2, 3, 4, 5]
    assert [s.template for s in cadence.steps] == [
        "ceo/intro",
        "ceo/bump",
        "tasks/call",
        "drip/insight",
        "checkin/last",
    ]
    assert [s.kind for s in cadence.steps] == [
        TemplateKind.CEO_EMAIL,
        TemplateKind.BUMP,
        TemplateKind.CALL_TASK,
        TemplateKind.DRIP,
        TemplateKind.CHECK_IN,
    ]
    assert [s.delay for s in cadence.steps] == [
        Delay(),
        Delay(days=3),
        Delay(days=2),
        Delay(duration=timedelta(hours=4)),
        Delay(duration=timedelta(minutes=30)),
    ]
    assert [s.thread for s in cadence.steps] == [
        Thread.NEW,
        Thread.REPLY,
        Thread.NEW,
        Thread.NEW,
        Thread.NEW,
    ]
    assert cadence.steps[3].send_window == SendWindow(time(14), time(16), frozenset({1}))
    assert cadence.steps[0].send_window is None


def test_defaults() -> None:
    cadence = parse({"name": "x", "steps": [{"template": "ceo/intro"}]})
    assert cadence.send_window == SendWindow(time(7, 30), time(9, 30), frozenset(range(5)))
    assert cadence.business_days is True
    assert cadence.on_reply is ReplyPolicy.HALT
    assert cadence.on_complete is None
    assert cadence.min_stage is None
    assert cadence.description == ""
    assert cadence.steps[0].delay == Delay()


def test_bump_defaults_to_reply_in_thread() -> None:
    cadence = parse(minimal())
    assert cadence.steps[1].kind is TemplateKind.BUMP
    assert cadence.steps[1].thread is Thread.REPLY


def test_bump_may_start_a_new_thread_when_asked() -> None:
    cadence = parse(with_step({"template": "ceo/bump", "thread": "new"}))
    assert cadence.steps[1].thread is Thread.NEW


def test_email_may_reply_in_thread_after_step_one() -> None:
    cadence = parse(with_step({"template": "checkin/last", "thread": "reply"}, position=3))
    assert cadence.steps[2].thread is Thread.REPLY


# --- parse_cadence: malformed ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "where", "detail"),
    [
        pytest.param(minimal(colour="red"), "cadence", "colour", id="unknown cadence key"),
        pytest.param(minimal(name="Seven Touch"), "name", "lower-case", id="bad name"),
        pytest.param({"steps": [{"template": "ceo/intro"}]}, "name", "required", id="no name"),
        pytest.param(minimal(name=7), "name", "required", id="name not text"),
        pytest.param(minimal(steps=[]), "steps", "at least one", id="empty steps"),
        pytest.param({"name": "x"}, "steps", "at least one", id="missing steps"),
        pytest.param(minimal(steps={"template": "x"}), "steps", "at least one", id="steps table"),
        pytest.param(minimal(on_reply="ignore"), "on_reply", "halt_account", id="bad on_reply"),
        pytest.param(minimal(on_reply=True), "on_reply", "halt", id="on_reply not text"),
        pytest.param(minimal(on_reply=["halt"]), "on_reply", "halt", id="on_reply list"),
        pytest.param(minimal(min_stage=["mql"]), "min_stage", "mql", id="min_stage list"),
        pytest.param(minimal(business_days="yes"), "business_days", "true or false", id="bd"),
        pytest.param(minimal(on_complete=3), "on_complete", "another cadence", id="on_complete"),
        pytest.param(minimal(min_stage="hot"), "min_stage", "mql", id="bad min_stage"),
        pytest.param(
            minimal(send_window={"start": "7:30", "end": "09:30"}),
            "send_window",
            "send_window.start",
            id="bad window start",
        ),
        pytest.param(
            minimal(send_window={"start": "07:30", "end": "25:00"}),
            "send_window",
            "send_window.end",
            id="window end 25:00",
        ),
        pytest.param(
            minimal(send_window={"start": "09:30", "end": "07:30"}),
            "send_window",
            "later",
            id="window end before start",
        ),
        pytest.param(
            minimal(send_window={"start": "07:30", "end": "09:30", "days": ["mon", "sol"]}),
            "send_window",
            "'sol'",
            id="unknown weekday",
        ),
    ],
)
def test_malformed_cadence(data: dict[str, Any], where: str, detail: str) -> None:
    with pytest.raises(DefinitionError) as info:
        parse(data)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: {where}:"), message
    assert detail in message


@pytest.mark.parametrize(
    ("step", "position", "field", "detail"),
    [
        pytest.param({"template": "ceo/nope"}, 2, "template", "'ceo/nope'", id="unknown tmpl"),
        pytest.param({"delay": "1d"}, 2, "template", "required", id="missing template"),
        pytest.param({"template": ""}, 2, "template", "required", id="empty template"),
        pytest.param({"template": 3}, 2, "template", "required", id="template not text"),
        pytest.param(
            {"template": "ceo/intro", "delay": "3 days"}, 2, "delay", "3 days", id="3 days"
        ),
        pytest.param({"template": "ceo/intro", "delay": "-1d"}, 2, "delay", "-1d", id="-1d"),
        pytest.param({"template": "ceo/intro", "delay": 3}, 2, "delay", "string", id="int delay"),
        pytest.param({"template": "ceo/intro", "delay": "1w"}, 3, "delay", "1w", id="1w"),
        pytest.param(
            {"template": "ceo/intro", "thread": "reply"}, 1, "thread", "first step", id="reply 1"
        ),
        pytest.param({"template": "ceo/bump"}, 1, "thread", "first step", id="bump as first step"),
        pytest.param(
            {"template": "tasks/call", "thread": "reply"}, 2, "thread", "task", id="call reply"
        ),
        pytest.param(
            {"template": "tasks/linkedin", "thread": "reply"}, 3, "thread", "task", id="li reply"
        ),
        pytest.param(
            {"template": "ceo/intro", "thread": "forward"}, 2, "thread", '"new"', id="thread"
        ),
        pytest.param(
            {"template": "ceo/intro", "thread": ["reply"]}, 2, "thread", '"new"', id="thread list"
        ),
        pytest.param(
            {"template": "ceo/intro", "send_window": {"start": "9", "end": "10:00"}},
            2,
            "send_window",
            "send_window.start",
            id="step window",
        ),
    ],
)
def test_malformed_step(step: dict[str, Any], position: int, field: str, detail: str) -> None:
    with pytest.raises(DefinitionError) as info:
        parse(with_step(step, position=position))
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: step {position}: {field}:"), message
    assert detail in message


def test_name_with_trailing_newline_is_rejected() -> None:
    with pytest.raises(DefinitionError, match=": name:"):
        parse(minimal(name="short\n"))


def test_clock_with_trailing_newline_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"send_window\.start"):
        parse_send_window({"start": "07:30\n", "end": "09:30"})


def test_unknown_step_key_names_the_step() -> None:
    with pytest.raises(DefinitionError) as info:
        parse(with_step({"template": "ceo/intro", "delya": "1d"}, position=2))
    assert str(info.value).startswith(f"{SOURCE}: step 2:")
    assert "delya" in str(info.value)


def test_step_that_is_not_a_table() -> None:
    with pytest.raises(DefinitionError, match=r"step 2: must be a \[\[steps\]\] table"):
        parse(minimal(steps=[{"template": "ceo/intro"}, "ceo/bump"]))


def test_definition_error_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse(minimal(colour="red"))


# --- load_cadence_file --------------------------------------------------------------------


def test_load_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "seven.toml"
    path.write_text(VALID, encoding="utf-8")
    cadence = load_cadence_file(path, KINDS)
    assert cadence.name == "seven-touch"
    assert cadence.source == str(path)
    assert len(cadence.steps) == 5


def test_load_shipped_cadences() -> None:
    kinds = {
        "ceo/intro": TemplateKind.CEO_EMAIL,
        "ceo/bump": TemplateKind.BUMP,
        "tasks/call": TemplateKind.CALL_TASK,
        "tasks/linkedin": TemplateKind.LINKEDIN_TASK,
        "drip/insight": TemplateKind.DRIP,
        "drip/benchmark": TemplateKind.DRIP,
        "drip/playbook": TemplateKind.DRIP,
        "checkin/value": TemplateKind.CHECK_IN,
        "checkin/last": TemplateKind.CHECK_IN,
    }
    seven = load_cadence_file(Path("config/cadences/seven-touch.toml"), kinds)
    assert seven.name == "seven-touch"
    assert len(seven.steps) == 7
    assert seven.on_complete == "nurture"
    nurture = load_cadence_file(Path("config/cadences/nurture.toml"), kinds)
    assert nurture.name == "nurture"


def test_bad_toml_syntax_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[[steps]\ntemplate = "ceo/intro"\n', encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_cadence_file(path, KINDS)
    assert str(info.value).startswith(f"{path}: not valid TOML")
    assert "line 2" in str(info.value)


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "x"\ndescription = "Caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(DefinitionError) as info:
        load_cadence_file(path, KINDS)
    assert str(info.value).startswith(f"{path}: cannot read")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(DefinitionError, match="cannot read"):
        load_cadence_file(path, KINDS)


def test_error_in_file_names_file_step_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad-step.toml"
    path.write_text(
        'name = "x"\n[[steps]]\ntemplate = "ceo/intro"\n[[steps]]\ntemplate = "ceo/intro"\n'
        'delay = "3 days"\n',
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as info:
        load_cadence_file(path, KINDS)
    assert str(info.value).startswith(f"{path}: step 2: delay:")
