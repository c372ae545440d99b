"""Cadences end: hand-over cycles are refused at load, steps and delays are bounded, and a
cadence that fails validation cannot be enrolled in (the catalog says why)."""

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadence.authoring.cadence_checks import handover_cycles, unusable_cadences
from cadence.authoring.cadence_files import MAX_STEPS, parse_cadence
from cadence.authoring.catalog import load_catalog
from cadence.core.domain import CadenceDefinition, TemplateKind
from cadence.core.errors import ConflictError, DefinitionError, NotFoundError

REPO = Path(__file__).resolve().parents[3]
KINDS = {"ceo/intro": TemplateKind.CEO_EMAIL, "tasks/call": TemplateKind.CALL_TASK}


def cadence(name: str, on_complete: str | None = None, steps: int = 1) -> CadenceDefinition:
    data = {
        "name": name,
        "steps": [{"template": "ceo/intro", "delay": "0d"}] * steps,
        **({"on_complete": on_complete} if on_complete else {}),
    }
    return parse_cadence(data, source=f"config/cadences/{name}.toml", template_kinds=KINDS)


def chain(links: dict[str, str | None]) -> dict[str, CadenceDefinition]:
    return {name: cadence(name, target) for name, target in links.items()}


@pytest.mark.parametrize(
    ("links", "cycles"),
    [
        ({"a": "a"}, [("a", "a")]),
        ({"a": "b", "b": "a"}, [("a", "b", "a")]),
        ({"a": "b", "b": "c", "c": "a", "d": "a"}, [("a", "b", "c", "a")]),
        ({"x": "a", "a": "b", "b": "a"}, [("a", "b", "a")]),
        ({"a": "b", "b": "c", "c": None}, []),
        ({"a": "missing"}, []),
        ({"a": "a", "b": "b"}, [("a", "a"), ("b", "b")]),
    ],
)
def test_handover_cycles(links: dict[str, str | None], cycles: list[tuple[str, ...]]) -> None:
    assert handover_cycles(chain(links)) == cycles


@given(st.dictionaries(st.sampled_from("abcdef"), st.sampled_from([*"abcdef", None]), min_size=1))
def test_a_chain_without_a_reported_cycle_ends(links: dict[str, str | None]) -> None:
    cadences = chain(links)
    on_a_cycle = {name for cycle in handover_cycles(cadences) for name in cycle}
    for start in cadences:
        seen: list[str] = []
        name: str | None = start
        while name in cadences and name not in seen:
            seen.append(name)
            name = cadences[name].on_complete
        assert (name in seen) == bool(on_a_cycle & set(seen))


def _workspace(tmp_path: Path) -> tuple[Path, Path]:
    config, templates = tmp_path / "config", tmp_path / "templates"
    shutil.copytree(REPO / "config", config)
    shutil.copytree(REPO / "templates", templates)
    return config, templates


@pytest.mark.parametrize(
    ("seven_touch", "nurture", "named"),
    [
        ("seven-touch", None, "seven-touch -> seven-touch"),
        ("nurture", "seven-touch", "nurture -> seven-touch -> nurture"),
        (None, "nurture", "nurture -> nurture"),
    ],
)
def test_a_handover_cycle_does_not_load(
    tmp_path: Path, seven_touch: str | None, nurture: str | None, named: str
) -> None:
    config, templates = _workspace(tmp_path)
    for name, target in (("seven-touch", seven_touch), ("nurture", nurture)):
        path = config / "cadences" / f"{name}.toml"
        lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("on_complete")]
        if target:
            lines.insert(1, f'on_complete = "{target}"')
        path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DefinitionError, match="cycle") as raised:
        load_catalog(config, templates)
    assert f"({named})" in str(raised.value)


def test_too_many_steps_names_the_field() -> None:
    with pytest.raises(
        DefinitionError, match=rf"test.toml: steps: 31 steps; .* at most {MAX_STEPS}"
    ):
        parse_cadence(
            {"name": "long", "steps": [{"template": "ceo/intro"}] * (MAX_STEPS + 1)},
            source="config/cadences/test.toml",
            template_kinds=KINDS,
        )
    assert len(cadence("ok", steps=MAX_STEPS).steps) == MAX_STEPS


@pytest.mark.parametrize("delay", ["366d", "9000h", "8761h", "9999d"])
def test_a_delay_over_a_year_names_file_step_and_field(delay: str) -> None:
    data = {
        "name": "slow",
        "steps": [{"template": "ceo/intro"}, {"template": "ceo/intro", "delay": delay}],
    }
    with pytest.raises(DefinitionError, match=r"test.toml: step 2: delay: .*over the limit of 365"):
        parse_cadence(data, source="config/cadences/test.toml", template_kinds=KINDS)


def test_unusable_cadences_say_why_and_reach_up_the_handover_chain() -> None:
    reply_first = parse_cadence(
        {
            "name": "broken",
            "steps": [{"template": "tasks/call"}, {"template": "ceo/intro", "thread": "reply"}],
        },
        source="config/cadences/broken.toml",
        template_kinds=KINDS,
    )
    cadences = {
        "broken": reply_first,
        "feeds-broken": cadence("feeds-broken", "broken"),
        "feeds-feeder": cadence("feeds-feeder", "feeds-broken"),
        "blocked": cadence("blocked"),
        "fine": cadence("fine"),
    }
    why = unusable_cadences(cadences, {"ceo/intro": "too-long: 900 characters"})
    assert set(why) == {"broken", "feeds-broken", "feeds-feeder", "blocked", "fine"}
    assert "no earlier step is an email" in why["broken"]
    why = unusable_cadences({k: v for k, v in cadences.items() if k != "blocked"}, {})
    assert set(why) == {"broken", "feeds-broken", "feeds-feeder"}
    assert why["feeds-feeder"].endswith("hands over to feeds-broken, which cannot run")


def test_the_catalog_refuses_to_enroll_in_an_unusable_cadence(tmp_path: Path) -> None:
    config, templates = _workspace(tmp_path)
    bad = config / "cadences" / "bad.toml"
    bad.write_text(
        'name = "bad"\n[[steps]]\ntemplate = "tasks/call"\n'
        '[[steps]]\ntemplate = "ceo/bump"\nthread = "reply"\n'
    )
    catalog = load_catalog(config, templates)
    assert "bad" in catalog.unusable
    with pytest.raises(ConflictError, match=r"'bad' fails validation.*bad.toml.*step 2"):
        catalog.enrollable("bad")
    with pytest.raises(NotFoundError):
        catalog.enrollable("nope")
    assert catalog.enrollable("seven-touch").name == "seven-touch"
    assert catalog.cadence("bad").name == "bad"  # in-flight work still finds it
