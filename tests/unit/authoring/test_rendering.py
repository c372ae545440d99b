"""Rendering in the sandbox: marketing's templates are untrusted input. Hostile templates are
rejected at check time or fail to render with a readable error, and never leak internals;
missing values fail loudly instead of producing "Hi ,"."""

import json
from typing import Any

import pytest

from cadence.authoring.rendering import MAX_RENDERED_CHARS, TemplateRenderer
from cadence.authoring.template_files import parse_template
from cadence.core.domain import TemplateDefinition
from cadence.core.errors import DefinitionError, RenderError

SENDER = {"first_name": "Sam", "company": "Acme", "postal_address": "1 Main St"}
CONTEXT: dict[str, Any] = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "full_name": "Ada Lovelace",
    "email": "ada@initech.test",
    "company": "Initech",
    "sender": SENDER,
    "custom": {"industry": "logistics"},
    "value_propositions": [{"claim": "faster ramp"}, {"claim": "fewer tools"}],
    "value_proposition": {"claim": "faster ramp", "proof": "40% in a quarter"},
    "unsubscribe_url": "https://acme.test/u/abc",
}
#: Strings that must never appear in an error or an output: signs that internals leaked.
LEAK_MARKERS = ("root:", "__builtins__", "<module", "os.environ", "sys.modules", "SECRET")


def template(
    body: str,
    *,
    subject: str | None = "Hello {{ company }}",
    kind: str = "drip",
    name: str = "t/hostile",
) -> TemplateDefinition:
    """A template file with a 4-line front matter (3 with no subject); body starts after it."""
    subject_line = "" if subject is None else f"subject: {json.dumps(subject)}\n"
    text = f"---\nkind: {kind}\n{subject_line}---\n{body}"
    return parse_template(text, name=name, path=f"templates/{name}.j2")


def renderer_for(*templates: TemplateDefinition) -> TemplateRenderer:
    return TemplateRenderer({t.name: t for t in templates})


def render(t: TemplateDefinition, context: dict[str, Any] | None = None) -> Any:
    return renderer_for(t).render(t.name, CONTEXT if context is None else context)


def assert_no_leak(text: str) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in text, text


# --- the happy path ----------------------------------------------------------------------


def test_render_subject_and_body() -> None:
    t = template("Hi {{ first_name }},\n\nTeams see {{ value_proposition.claim }}.\n")
    renderer = renderer_for(t)
    renderer.check(t)
    result = renderer.render(t.name, CONTEXT)
    assert result.subject == "Hello Initech"
    assert result.body == "Hi Ada,\n\nTeams see faster ramp."


def test_subject_whitespace_is_collapsed() -> None:
    t = template("body", subject="{{ company }}\n   and   {{ sender.company }}")
    assert render(t).subject == "Initech and Acme"


def test_template_without_subject_renders_none() -> None:
    t = template("Following up on the below.", subject=None, kind="bump")
    result = render(t)
    assert result.subject is None
    assert result.body == "Following up on the below."


def test_default_fills_a_missing_first_name() -> None:
    t = template('Hi {{ first_name | default("there") }},')
    context = {k: v for k, v in CONTEXT.items() if k != "first_name"}
    assert render(t, context).body == "Hi there,"


def test_custom_fields_are_reachable() -> None:
    t = template("In {{ custom.industry }}?")
    renderer_for(t).check(t)
    assert render(t).body == "In logistics?"


def test_include_of_a_loaded_template() -> None:
    signature = template("--\n{{ sender.first_name }}", name="partials/signature")
    main = template("Hi {{ first_name }},\n{% include 'partials/signature' %}", name="ceo/x")
    renderer = renderer_for(signature, main)
    renderer.check(main)
    body = renderer.render("ceo/x", CONTEXT).body
    assert body.startswith("Hi Ada,\n")
    assert body.endswith("\n--\nSam")


def test_include_adds_no_blank_lines() -> None:
    signature = template("--\n{{ sender.first_name }}", name="partials/signature")
    main = template("Hi {{ first_name }},\n{% include 'partials/signature' %}", name="ceo/x")
    assert renderer_for(signature, main).render("ceo/x", CONTEXT).body == "Hi Ada,\n--\nSam"


def test_shipped_style_template_renders() -> None:
    text = (
        "---\nkind: ceo_email\n"
        "subject: \"{{ company | default('your team') }} and {{ sender.company }}\"\n---\n"
        'Hi {{ first_name | default("there") }},\n\nWorth 15 minutes?\n\n{{ sender.first_name }}\n'
    )
    t = parse_template(text, name="ceo/intro", path="templates/ceo/intro.j2")
    renderer = renderer_for(t)
    renderer.check(t)
    result = renderer.render("ceo/intro", {"sender": SENDER})
    assert result.subject == "your team and Acme"
    assert result.body == "Hi there,\n\nWorth 15 minutes?\n\nSam"


# --- StrictUndefined: never "Hi ," -------------------------------------------------------


def test_missing_first_name_is_a_render_error_naming_file_and_line() -> None:
    t = template("Intro line\n\nHi {{ first_name }},\n")  # body line 3 = file line 7
    context = {k: v for k, v in CONTEXT.items() if k != "first_name"}
    with pytest.raises(RenderError) as info:
        render(t, context)
    message = str(info.value)
    assert message.startswith("templates/t/hostile.j2:7:"), message
    assert "first_name" in message


def test_none_context_never_renders_hi_comma() -> None:
    t = template("Hi {{ first_name }},")
    with pytest.raises(RenderError):
        render(t, {})


def test_missing_attribute_is_a_render_error() -> None:
    t = template("In {{ custom.industry }}?")
    with pytest.raises(RenderError, match="industry"):
        render(t, {**CONTEXT, "custom": {}})


def test_missing_variable_in_subject_is_a_render_error() -> None:
    t = template("body", subject="Hi {{ first_name }}")
    context = {k: v for k, v in CONTEXT.items() if k != "first_name"}
    with pytest.raises(RenderError) as info:
        render(t, context)
    assert str(info.value).startswith("templates/t/hostile.j2")
    assert "first_name" in str(info.value)


def test_empty_rendered_body_is_an_error() -> None:
    t = template("{{ '' }}\n   \n")
    with pytest.raises(RenderError, match="rendered body is empty"):
        render(t)


def test_empty_rendered_subject_is_an_error() -> None:
    t = template("body", subject="{{ '  ' }}")
    with pytest.raises(RenderError, match="rendered subject is empty"):
        render(t)


def test_runaway_body_is_an_error() -> None:
    t = template("{% for i in range(300) %}{% for j in range(200) %}x{% endfor %}{% endfor %}")
    with pytest.raises(RenderError, match=f"over {MAX_RENDERED_CHARS}"):
        render(t)


def test_unknown_template_name() -> None:
    with pytest.raises(RenderError, match="'nope' is not loaded"):
        renderer_for(template("x")).render("nope", CONTEXT)


# --- check(): rejected at load time --------------------------------------------------------


def test_check_rejects_unknown_variable_naming_the_file() -> None:
    t = template("Hi {{ first_name }},\n{{ password }}\n")
    with pytest.raises(DefinitionError) as info:
        renderer_for(t).check(t)
    message = str(info.value)
    assert message.startswith("templates/t/hostile.j2")
    assert "password" in message
    assert "custom.NAME" in message


def test_check_rejects_unknown_variable_naming_the_line() -> None:
    t = template("Hi {{ first_name }},\n\n{{ password }}\n")  # body line 3 = file line 7
    with pytest.raises(DefinitionError, match=r"^templates/t/hostile\.j2:7: "):
        renderer_for(t).check(t)


def test_check_rejects_unknown_variable_in_subject() -> None:
    t = template("body", subject="{{ secret_token }}")
    with pytest.raises(DefinitionError, match="subject uses unknown variable"):
        renderer_for(t).check(t)


def test_check_rejects_syntax_error_with_file_line() -> None:
    t = template("line one\n{% if %}\n")  # body line 2 = file line 6
    with pytest.raises(DefinitionError, match=r"^templates/t/hostile\.j2:6: body: "):
        renderer_for(t).check(t)


def test_check_allows_loop_and_set_variables() -> None:
    t = template(
        "{% set greeting = 'Hi' %}{{ greeting }}"
        "{% for vp in value_propositions %}{{ loop.index }} {{ vp.claim }}{% endfor %}"
    )
    renderer_for(t).check(t)
    assert render(t).body == "Hi1 faster ramp2 fewer tools"


@pytest.mark.parametrize(
    "body",
    ["{% include '../../etc/passwd' %}", "{% include '/etc/passwd' %}", "{% include 'nope' %}"],
)
def test_check_rejects_includes_outside_the_catalog(body: str) -> None:
    t = template(body)
    with pytest.raises(DefinitionError, match="not a template in the templates folder"):
        renderer_for(t).check(t)


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "../../../../etc/hostname"])
def test_include_never_reads_files(target: str) -> None:
    t = template(f"{{% include {target!r} %}}")
    with pytest.raises(RenderError) as info:
        render(t)
    assert_no_leak(str(info.value))


def test_dynamic_include_cannot_reach_files() -> None:
    t = template("{% include company %}")
    with pytest.raises(RenderError) as info:
        render(t, {**CONTEXT, "company": "/etc/passwd"})
    assert_no_leak(str(info.value))


# --- hostile templates -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os.environ }}",
        "{{ lipsum.__globals__['os'].environ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ company | attr('__class__') }}",
        "{{ '{0.__class__.__mro__}'.format(company) }}",
        "{{ '%s' % company.__class__ }}",
        "{{ sender.__class__.__base__.__subclasses__() }}",
        "{{ range.__self__ }}",
        "{% set l = [1, 2] %}{{ l.append(3) }}{{ l }}",
        "{% set d = {'a': 1} %}{{ d.update(b=2) }}{{ d }}",
        "{{ custom.clear() }}{{ custom }}",
        "{{ value_propositions.pop() }}",
        "{{ 'a' * 100000000 }}",
        "{{ 100000000 * 'a' }}",
        "{{ ['a'] * 100000000 }}",
        "{{ 10 ** 10000000 }}",
        "{{ 2 ** 100000 }}",
        "{% for i in range(10**9) %}x{% endfor %}",
        "{% for i in range(10**9) | list %}x{% endfor %}",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    ],
)
def test_hostile_template_fails_to_render_and_leaks_nothing(body: str) -> None:
    t = template(body)
    with pytest.raises(RenderError) as info:
        render(t)
    assert_no_leak(str(info.value))
    assert str(info.value).startswith("templates/t/hostile.j2")


def test_mutations_never_reach_the_context() -> None:
    custom = {"industry": "logistics"}
    t = template("{{ custom.clear() }}")
    with pytest.raises(RenderError):
        render(t, {**CONTEXT, "custom": custom})
    assert custom == {"industry": "logistics"}


def test_blocked_attribute_is_named_in_the_error() -> None:
    t = template("{{ cycler.__init__.__globals__ }}")
    with pytest.raises(RenderError, match="blocked"):
        render(t)


def test_secret_in_globals_is_not_reachable() -> None:
    # Even a context value holding a function exposes no globals.
    def helper() -> str:
        return "ok"

    t = template("{{ custom.f.__globals__ }}")
    with pytest.raises(RenderError) as info:
        render(t, {**CONTEXT, "custom": {"f": helper}})
    assert "SECRET" not in str(info.value)


# String amplification: the sandbox bounds "*" by its count, but other ways to build a huge
# string in one expression are not bounded. "| length" keeps the rendered output small, so
# only the allocation itself (20 MB here; 10**10 would exhaust memory) is the problem.
@pytest.mark.parametrize(
    "body",
    [
        "{{ (('a' * 10000) * 2000) | length }}",
        "{{ 'a'.ljust(20000000) | length }}",
        "{{ 'a' | center(20000000) | length }}",
        "{{ ('%20000000s' % 'a') | length }}",
        "{{ '{:20000000}'.format('a') | length }}",
    ],
)
def test_huge_strings_are_blocked(body: str) -> None:
    t = template(body)
    with pytest.raises(RenderError):
        render(t)
