"""Building LintRules from parsed lint.toml: defaults, overrides, and clear errors."""

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cadence.authoring.lint.linter import DEFAULT_RULES, BoilerplatePhrase, LintRules

LINT_TOML = Path(__file__).resolve().parents[4] / "config" / "lint.toml"


def test_shipped_lint_toml_matches_the_defaults() -> None:
    with LINT_TOML.open("rb") as handle:
        data = tomllib.load(handle)
    assert LintRules.from_mapping(data) == DEFAULT_RULES


def test_empty_mapping_gives_the_defaults() -> None:
    assert LintRules.from_mapping({}) == DEFAULT_RULES


def test_defaults_encode_the_selling_rules() -> None:
    assert DEFAULT_RULES.max_body_chars["ceo_email"] == 400
    assert DEFAULT_RULES.max_asks["ceo_email"] == 1
    assert DEFAULT_RULES.max_asks["bump"] == 1
    assert "drip" in DEFAULT_RULES.no_ask_kinds
    assert "drip" in DEFAULT_RULES.footer_kinds
    assert DEFAULT_RULES.require_value_proposition
    assert DEFAULT_RULES.level("too-long") == "error"
    assert DEFAULT_RULES.level("boilerplate") == "warning"


def test_a_key_overrides_only_itself() -> None:
    rules = LintRules.from_mapping(
        {
            "length": {"max_body_chars": {"ceo_email": 300}},
            "severity": {"boilerplate": "off", "too-long": "warning"},
            "boilerplate": [{"phrases": ["synergy"], "instead": "Say what you do."}],
            "value_proposition": {"required": False},
        }
    )
    assert rules.max_body_chars == {"ceo_email": 300}
    assert rules.level("boilerplate") == "off"
    assert rules.level("too-long") == "warning"
    assert rules.level("multiple-asks") == "error"
    assert rules.boilerplate == (BoilerplatePhrase(("synergy",), "Say what you do."),)
    assert not rules.require_value_proposition
    assert rules.max_asks == DEFAULT_RULES.max_asks


BAD: list[tuple[dict[str, Any], str]] = [
    ({"lenght": {}}, "lenght"),
    ({"length": []}, "length: must be a table"),
    ({"length": {"max_chars": 3}}, "length.max_chars"),
    ({"length": {"max_body_chars": {"ceo_email": -1}}}, "length.max_body_chars.ceo_email"),
    ({"length": {"max_body_chars": {"ceo_email": True}}}, "length.max_body_chars.ceo_email"),
    ({"length": {"max_body_chars": {"ceo_mail": 400}}}, "unknown template kind 'ceo_mail'"),
    ({"length": {"max_body_chars": 400}}, "length.max_body_chars"),
    ({"length": {"max_signature_lines": "6"}}, "length.max_signature_lines"),
    ({"asks": {"patterns": ["(unclosed"]}}, "asks.patterns[0]"),
    ({"asks": {"patterns": "let me know"}}, "asks.patterns"),
    ({"asks": {"openers": [""]}}, "asks.openers"),
    ({"asks": {"forbidden_in": ["newsletter"]}}, "asks.forbidden_in"),
    ({"footer": {"postal_address": ["ok", "[bad"]}}, "footer.postal_address[1]"),
    ({"value_proposition": {"required": "yes"}}, "value_proposition.required"),
    ({"subject": {"max_chars": 6.5}}, "subject.max_chars"),
    ({"severity": {"too-long": "fatal"}}, "severity.too-long"),
    ({"severity": {"too-short": "error"}}, "severity.too-short"),
    ({"boilerplate": {"phrases": []}}, "boilerplate"),
    ({"boilerplate": [{"phrases": ["x"]}]}, "boilerplate[0]: needs both"),
    ({"boilerplate": [{"phrases": ["x"], "instead": 3}]}, "boilerplate[0].instead"),
    ({"boilerplate": [{"phrases": "x", "instead": "y"}]}, "boilerplate[0].phrases"),
    ({"boilerplate": [{"phrases": ["x"], "instead": "y", "why": "z"}]}, "boilerplate[0].why"),
    ({"boilerplate": ["x"]}, "boilerplate[0]"),
]


@pytest.mark.parametrize(("data", "names"), BAD)
def test_invalid_rules_name_the_key(data: dict[str, Any], names: str) -> None:
    with pytest.raises(ValueError, match=re.escape(names)):
        LintRules.from_mapping(data)


def test_direct_construction_checks_patterns_and_rule_ids() -> None:
    with pytest.raises(ValueError, match=r"ask_patterns\[0\]"):
        LintRules(ask_patterns=("(",))
    with pytest.raises(ValueError, match="unknown rule"):
        LintRules(severities={"nope": "error"})
