"""Template files: YAML front matter, then a Jinja body; each malformed file is a
DefinitionError naming the file (and the line where there is one)."""

from pathlib import Path

import pytest

from cadence.authoring.template_files import (
    MAX_TEMPLATE_BYTES,
    parse_template,
    read_template,
    template_name,
)
from cadence.core.domain import TemplateDefinition, TemplateKind
from cadence.core.errors import DefinitionError

PATH = "templates/ceo/intro.j2"
INTRO = """---
kind: ceo_email
subject: "{{ company }} and {{ sender.company }}"
description: first touch to an executive
---
Hi {{ first_name | default("there") }},

Worth 15 minutes?
"""


def parse(text: str) -> TemplateDefinition:
    return parse_template(text, name="ceo/intro", path=PATH)


def test_valid_template() -> None:
    t = parse_template(INTRO, name="ceo/intro", path=PATH)
    assert t.name == "ceo/intro"
    assert t.kind is TemplateKind.CEO_EMAIL
    assert t.subject == "{{ company }} and {{ sender.company }}"
    assert t.description == "first touch to an executive"
    assert t.body == 'Hi {{ first_name | default("there") }},\n\nWorth 15 minutes?\n'
    assert t.path == PATH
    assert t.source == INTRO
    assert t.body_start_line == 6
    assert INTRO.splitlines()[t.body_start_line - 1].startswith("Hi ")


@pytest.mark.parametrize(
    ("front_lines", "expected_line"),
    [(["kind: drip", 'subject: "x"'], 5), (["kind: bump"], 4), (["kind: bump", "", "# c"], 6)],
)
def test_body_start_line(front_lines: list[str], expected_line: int) -> None:
    text = "---\n" + "\n".join(front_lines) + "\n---\nFIRST BODY LINE\nsecond\n"
    t = parse_template(text, name="t", path="t.j2")
    assert text.splitlines()[t.body_start_line - 1] == "FIRST BODY LINE"
    assert t.body_start_line == expected_line


def test_crlf_line_endings() -> None:
    text = INTRO.replace("\n", "\r\n")
    t = parse_template(text, name="ceo/intro", path=PATH)
    assert t.kind is TemplateKind.CEO_EMAIL
    assert t.body_start_line == 6
    assert t.body.startswith("Hi {{")


def test_bump_may_omit_subject() -> None:
    t = parse_template("---\nkind: bump\n---\nFollowing up on the below.\n", name="b", path="b.j2")
    assert t.kind is TemplateKind.BUMP
    assert t.subject is None
    assert t.description == ""


@pytest.mark.parametrize("kind", ["call_task", "linkedin_task"])
def test_tasks_may_omit_subject(kind: str) -> None:
    t = parse_template(f"---\nkind: {kind}\n---\nCall them.\n", name="t", path="t.j2")
    assert t.subject is None
    assert t.kind.is_task


def test_optional_known_fields_are_accepted() -> None:
    text = '---\nkind: drip\nsubject: "s"\nvariants: 2\npersona_required: true\n---\nbody\n'
    assert parse_template(text, name="d", path="d.j2").kind is TemplateKind.DRIP


def test_version_is_a_content_hash() -> None:
    first = parse_template(INTRO, name="ceo/intro", path=PATH)
    again = parse_template(INTRO, name="other/name", path="elsewhere.j2")
    changed = parse_template(INTRO.replace("15 minutes", "20 minutes"), name="ceo/intro", path=PATH)
    front_changed = parse_template(
        INTRO.replace("first touch", "opening touch"), name="ceo/intro", path=PATH
    )
    assert first.version == again.version
    assert first.version != changed.version
    assert first.version != front_changed.version
    assert len(first.version) >= 8
    assert all(c in "0123456789abcdef" for c in first.version)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("Hi {{ first_name }}\n", f"{PATH}:1: a template starts", id="no front"),
        pytest.param("", f"{PATH}:1: a template starts", id="empty file"),
        pytest.param("\n---\nkind: drip\n---\nbody\n", f"{PATH}:1:", id="blank first line"),
        pytest.param(
            "---\nkind: drip\nsubject: s\nHi there\n",
            f"{PATH}:1: front matter is not closed",
            id="unclosed",
        ),
        pytest.param(
            "---\n- a\n- b\n---\nbody\n", f"{PATH}:2: front matter must be a mapping", id="list"
        ),
        pytest.param(
            "---\njust text\n---\nbody\n", f"{PATH}:2: front matter must be a mapping", id="scalar"
        ),
        pytest.param(
            "---\nkind: [drip\n---\nbody\n",
            f"{PATH}: front matter is not valid YAML",
            id="invalid yaml",
        ),
        pytest.param(
            "---\nkind: drip\n\tsubject: x\n---\nbody\n",
            f"{PATH}: front matter is not valid YAML",
            id="tab yaml",
        ),
        pytest.param(
            "---\nkind: newsletter\nsubject: s\n---\nbody\n", "kind must be one of", id="kind"
        ),
        pytest.param("---\nsubject: s\n---\nbody\n", "kind must be one of", id="missing kind"),
        pytest.param(
            "---\nkind: [drip]\nsubject: s\n---\nbody\n", "kind must be one of", id="kind list"
        ),
        pytest.param(
            "---\nkind: ceo_email\n---\nbody\n",
            "subject is required for a ceo_email",
            id="ceo without subject",
        ),
        pytest.param(
            "---\nkind: drip\n---\nbody\n", "subject is required for a drip", id="drip no subject"
        ),
        pytest.param(
            "---\nkind: drip\nsubject: 42\n---\nbody\n", "subject must be text", id="subject int"
        ),
        pytest.param(
            "---\nkind: drip\nsubject: s\nsender: me\n---\nbody\n",
            "unknown fields sender",
            id="unknown field",
        ),
        pytest.param(
            "---\nkind: drip\nsubject: s\n---\n",
            f"{PATH}:5: the template body is empty",
            id="no body",
        ),
        pytest.param(
            "---\nkind: drip\nsubject: s\n---\n  \n\n\t\n",
            f"{PATH}:5: the template body is empty",
            id="blank body",
        ),
        pytest.param(
            "---\n!!python/object/apply:os.system ['echo hi']\n---\nbody\n",
            f"{PATH}: front matter is not valid YAML",
            id="python tag",
        ),
    ],
)
def test_malformed_template(text: str, message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith(PATH)


def test_template_name() -> None:
    root = Path("templates")
    assert template_name(root / "ceo" / "intro.j2", root) == "ceo/intro"
    assert template_name(root / "bump.j2", root) == "bump"


def test_read_template(tmp_path: Path) -> None:
    (tmp_path / "ceo").mkdir()
    path = tmp_path / "ceo" / "intro.j2"
    path.write_text(INTRO, encoding="utf-8")
    t = read_template(path, tmp_path)
    assert t.name == "ceo/intro"
    assert t.path == str(path)
    assert t.version == parse(INTRO).version


def test_read_template_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.j2"
    path.write_bytes("---\nkind: drip\nsubject: Café\n---\nbody\n".encode("latin-1"))
    with pytest.raises(DefinitionError, match="not UTF-8"):
        read_template(path, tmp_path)


def test_read_template_rejects_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.j2"
    path.write_text("---\nkind: drip\nsubject: s\n---\n" + "x" * MAX_TEMPLATE_BYTES)
    with pytest.raises(DefinitionError, match="larger than"):
        read_template(path, tmp_path)


def test_non_text_front_matter_key() -> None:
    with pytest.raises(DefinitionError, match="unknown fields 1"):
        parse("---\nkind: drip\nsubject: s\n1: x\n---\nbody\n")


def test_a_later_dashes_line_belongs_to_the_body() -> None:
    t = parse("---\nkind: drip\nsubject: s\n---\nbody\n---\nmore\n")
    assert t.body == "body\n---\nmore\n"
