"""The linter's text plumbing: the message as sent, sentences, source lines, citations; purity."""

import ast
import sys
from pathlib import Path

import pytest

from cadence.authoring.lint.text import SourceMap, front_matter_line, sentences, split_message
from cadence.authoring.lint.value_props import cites

PACKAGE = Path(__file__).resolve().parents[4] / "cadence" / "authoring" / "lint"


@pytest.mark.parametrize(
    ("body", "message", "signature"),
    [
        ("Hi.\n\nOn Tue, 3 Mar, Ann <a@x.test> wrote:\n> old", "Hi.", ""),
        ("Hi.\nOn Tue, 3 Mar 2026 at 09:12, Ann Lee <a@x.test>\nwrote:\n> old", "Hi.", ""),
        ("Hi.\n-----Original Message-----\nFrom: Ann", "Hi.", ""),
        ("Hi.\n> quoted\n> more\n\n", "Hi.", ""),
        ("> 40% faster, as promised.\nMore text.", "> 40% faster, as promised.\nMore text.", ""),
        ("Hi.\n-- \nAnn\nCEO", "Hi.", "Ann\nCEO"),
        ("Hi.\n--\nAnn", "Hi.", "Ann"),
        ("Hi.\n-- \n" + "x\n" * 7, "Hi.\n--\n" + "x\n" * 6 + "x", ""),
        ("  Hi.   \n\n\n\n  There.  \r\n", "Hi.\n\n  There.", ""),
        ("On Monday we shipped it.", "On Monday we shipped it.", ""),
        ("", "", ""),
    ],
)
def test_split_message(body: str, message: str, signature: str) -> None:
    parts = split_message(body, max_signature_lines=6)
    assert (parts.message, parts.signature) == (message, signature)


def test_whole_keeps_the_signature_but_not_the_quote() -> None:
    parts = split_message("Hi.\n-- \nAnn\nOn Mon, Bob wrote:\n> hi", max_signature_lines=6)
    assert parts.whole == "Hi.\n--\nAnn"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two? Three!", ["One.", "Two?", "Three!"]),
        ("Hard\nwrapped line.", ["Hard wrapped line."]),
        ("Para one\n\nPara two", ["Para one", "Para two"]),
        ("Options:\n- a\n- b", ["Options:", "- a", "- b"]),
        ("See https://x.test/a.b?c=d now.", ["See https://x.test/a.b?c=d now."]),
        ("Free?\nhttps://cal.com/x", ["Free? https://cal.com/x"]),
        ('He said "go." Then left.', ['He said "go."', "Then left."]),
        ("", []),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


SOURCE = """---
kind: drip
subject: "Hi"
---
Hi {{ first_name }},

{% if persona == "cfo" %}Worth a chat, {{ first_name }}?{% endif %}
Let me know.
Kind
regards
"""


@pytest.mark.parametrize(
    ("snippet", "key", "line"),
    [
        ("Worth a chat, Bob?", "", 7),
        ("Let me know.", "let me know", 8),
        ("Hi Bob,", "", 5),
        ("Kind regards", "Kind regards", 9),
        ("Nothing like this", "", 5),
        ("", "", 5),
    ],
)
def test_source_map_locates_rendered_snippets(snippet: str, key: str, line: int) -> None:
    assert SourceMap(SOURCE, 5).locate(snippet, key) == line


def test_front_matter_line() -> None:
    assert front_matter_line(SOURCE, 5, "subject") == 3
    assert front_matter_line(SOURCE, 5, "missing") == 1
    assert front_matter_line("", 0, "subject") == 1


@pytest.mark.parametrize(
    ("message", "vps", "expected"),
    [
        ("We cut onboarding time by 40%.", ["cut onboarding time by 40%"], True),
        ("Onboarding is 40 percent faster.", ["cut onboarding time by 40%"], True),
        ("Onboarding is 40 % faster.", ["cut onboarding time by 40%"], True),
        ("Onboarding is 40% faster.", ["cut onboarding time by 40 per cent"], True),
        ("We saved Hooli 12 hours a week.", ["save 12 hours per week"], True),
        ("Pays back $2M.", ["$2m saved per year"], True),
        ("3x faster reviews", ["3× faster reviews"], True),
        ("The time it takes to onboard, halved.", ["onboarding time"], True),
        ("We are SOC 2 compliant.", ["SOC 2 compliant"], True),
        ("We are now SOC 2 compliance certified.", ["SOC 2 compliant"], True),
        ("We cut onboarding time a lot.", ["cut onboarding time by 40%"], True),
        ("We grew 4% this year.", ["cut onboarding time by 40%"], False),
        ("We have 2 offices.", ["SOC 2 compliant"], False),
        ("Onboarding is hard.", ["cut onboarding time by 40%"], False),
        ("Anything", [], False),
        ("Anything", [""], False),
        ("", ["cut onboarding time by 40%"], False),
        ("Reduce churn.", ["reduce churn"], True),
        ("Reduce costs.", ["reduce churn"], False),
    ],
)
def test_cites_value_proposition(message: str, vps: list[str], expected: bool) -> None:
    assert cites(message, vps) is expected


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_linter_modules_import_only_the_standard_library(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    for name in imported:
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or name.startswith("cadence.authoring.lint"), name
        assert top != "tomllib", "the caller parses lint.toml"
