"""Rendering is bounded in time and memory: loops, recursion, and every operation that can
build a large value stop with a readable RenderBudgetError (a RenderError, the type the
claim path fails a touch with), quickly and without allocating past the limit."""

import shutil
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence.authoring.catalog import load_catalog
from cadence.authoring.render_budget import OverBudget, RenderLimits
from cadence.authoring.rendering import RenderBudgetError, TemplateRenderer
from cadence.core.domain import TemplateDefinition
from cadence.core.errors import DefinitionError, RenderError

from .test_rendering import CONTEXT, render, renderer_for, template

NESTED = "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}"
HOSTILE = {
    "three nested ranges": NESTED + "{% endfor %}{% endfor %}{% endfor %}x",
    "nested loops over a built string": (
        '{% set s = "x" * 10000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}x'
    ),
    "join with a long separator": '{{ range(10000) | join("x" * 99999) }}',
    "str.join of a long separator": '{{ ("y" * 100000).join(range(9000) | map("string")) }}',
    "indent": '{{ "a\nb" | indent(1000000000) }}',
    "indent by a string": '{{ ("a\n" * 5000) | indent("x" * 100000) }}',
    "format width from an argument": '{{ "%*s" | format(1000000000, "") }}',
    "format width after a mapping key": '{{ "%(a)999999999s" | format(a=1) }}',
    "format precision": '{{ "%.999999999f" % 1 }}',
    "format fields repeated": '{{ ("%s" * 5000) | format(*(["x" * 100000] * 5000)) }}',
    "str.format nested width": '{{ "{:>{w}}".format("", w=1000000000) }}',
    "str.format positional width": '{{ "{0:{1}}".format("", 999999999) }}',
    "str.format wide": '{{ "{:1000000000}".format("") }}',
    "str.format_map wide": '{{ "{a:1000000000}".format_map({"a": ""}) }}',
    "replace multiplies": '{{ ("x" * 100000) | replace("x", "y" * 100000) }}',
    "str.replace multiplies": '{{ ("x" * 100000).replace("x", "y" * 100000) }}',
    "replace of the empty string": '{{ ("x" * 100000) | replace("", "y" * 1000) }}',
    "set block in a loop": (
        '{% set x %}{% for i in range(10000) %}{{ "y" * 100000 }}{% endfor %}{% endset %}x'
    ),
    "literal text in a loop": "{% set x %}{% for i in range(10000) %}"
    + "lorem ipsum " * 100
    + "{% endfor %}{% endset %}x",
    "concatenation in a loop": (
        '{% set ns = namespace(s="") %}{% for i in range(10000) %}'
        '{% set ns.s = ns.s ~ ("x" * 10000) %}{% endfor %}x'
    ),
    "doubling with +": (
        '{% set ns = namespace(s="xx") %}{% for i in range(40) %}'
        "{% set ns.s = ns.s + ns.s %}{% endfor %}x"
    ),
    "doubling a list": (
        "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}x"
    ),
    "squaring an integer": (
        "{% set ns = namespace(n=3) %}{% for i in range(64) %}"
        "{% set ns.n = ns.n * ns.n %}{% endfor %}x"
    ),
    "power tower": "{{ ((2 ** 64) ** 64) ** 64 }}",
    "tuple repetition": "{{ ((1,) * 1000000000) | length }}",
    "lipsum": "{{ lipsum(1000000) | length }}",
    "exponential macro": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(60) }}x"
    ),
    "recursive loop": "{% for x in [1, 1] recursive %}{{ loop([1, 1]) }}{% endfor %}x",
    "sum of lists": "{{ ([[1] * 100000] * 100000) | sum(start=[]) | length }}",
    "batch fill": '{{ range(3) | batch(1000000000, "x") | list | length }}',
    # Each string under the size limit, ten thousand of them together gigabytes.
    "centre mapped over a range": (
        '{{ range(10000) | map("string") | map("center", 262000) | list | length }}'
    ),
    "centre mapped over wide characters": '{{ (["日"] * 10000) | map("center", 262000) | list }}',
    "indent mapped over a list": '{{ (["a\nb"] * 10000) | map("indent", 200000) | list }}',
    "slice count": "{{ range(3) | slice(1000000000) | list | length }}",
    "tojson indent": "{{ [[[[[1]]]]] | tojson(indent=100000000) }}",
    "urlize target": '{{ ("a.b " * 10000) | urlize(target="x" * 100000) }}',
    "wordwrap wrapstring": '{{ ("x" * 100000) | wordwrap(1, wrapstring="y" * 1000) }}',
    "center": '{{ "x" | center(1000000000) }}',
    "expandtabs": '{{ ("\t" * 100000).expandtabs(100000) }}',
    "translate": '{{ ("a" * 100000).translate({97: "x" * 100000}) }}',
    "output past the limit": '{{ "x" * 200000 }}{{ "x" * 200000 }}',
}
#: Values small in memory whose text is huge: one long string referenced many times, or a
#: tuple nested in itself by doubling. Each turned into text one way or another.
_SHARED = '{% set l = ["x" * 100000] * 100000 %}'
_DOUBLED = (
    "{% set ns = namespace(t=(1,)) %}{% for i in range(40) %}"
    "{% set ns.t = (ns.t, ns.t) %}{% endfor %}"
)
HOSTILE.update(
    {
        "a shared list output": _SHARED + "{{ l }}",
        "a shared list formatted": _SHARED + '{{ "%s" % (l,) }}',
        "a shared list through a filter": _SHARED + "{{ l | string | length }}",
        "a shared list as JSON": _SHARED + "{{ l | tojson | length }}",
        "a list of one long string repeated": (
            '{% set l = ["x" * 200000] %}{{ (l * 100000) | length }}'
        ),
        "a doubled tuple output": _DOUBLED + "{{ ns.t }}",
        "a doubled tuple upper-cased": _DOUBLED + "{{ ns.t | upper | length }}",
        "a doubled tuple concatenated": _DOUBLED + '{{ (ns.t ~ "") | length }}',
        "a doubled tuple in str.format": _DOUBLED + '{{ "{}".format(ns.t) | length }}',
        "a doubled tuple pretty-printed": _DOUBLED + "{{ ns.t | pprint | length }}",
    }
)


def _bounded(body: str) -> tuple[Exception, float, int]:
    t = template(body)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(RenderError) as raised:
            render(t)
        return raised.value, time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_template_stops_quickly_and_small(body: str) -> None:
    error, seconds, peak = _bounded(body)
    assert seconds < 10, seconds  # the default budget is 2 s; tracemalloc slows the steps
    assert peak < 64 * 2**20, peak  # the largest string allowed is 256 K characters
    assert str(error).startswith("templates/t/hostile.j2")


@pytest.mark.parametrize(
    "body",
    [
        HOSTILE["three nested ranges"],
        HOSTILE["set block in a loop"],
        HOSTILE["join with a long separator"],
    ],
)
def test_over_budget_says_so(body: str) -> None:
    with pytest.raises(RenderBudgetError, match="over the render budget"):
        render(template(body))


LOOPS_ON_DATA = (
    "Hi {{ first_name }},{% for i in range(custom.n | default(1) | int) %}"
    "{% for j in range(custom.n | default(1) | int) %}"
    "{% for k in range(custom.n | default(1) | int) %}.{% endfor %}{% endfor %}{% endfor %}"
)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(min_value=0, max_value=10_000))
def test_a_prospects_data_cannot_stall_the_render(n: int) -> None:
    """Loops sized by a custom field: a small one renders, a large one fails alone."""
    t = template(LOOPS_ON_DATA)
    context = {**CONTEXT, "custom": {"n": str(n)}}
    started = time.monotonic()
    if n**3 <= 50_000:
        assert render(t, context).body.count(".") == n**3
    else:
        with pytest.raises(RenderBudgetError):
            render(t, context)
    assert time.monotonic() - started < 5


def test_the_deadline_is_read_from_the_injected_clock() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 0.5  # every reading: half a second later
        return now[0]

    slow = template("{% for i in range(1000) %}{{ i }}{% endfor %}")
    quick = template("Hi {{ first_name }}", name="t/quick")
    renderer = TemplateRenderer({t.name: t for t in (slow, quick)}, clock=clock)
    with pytest.raises(RenderBudgetError, match="took over 2 s"):
        renderer.render(slow.name, CONTEXT)
    assert renderer.render(quick.name, CONTEXT).body == "Hi Ada"


def test_limits_are_the_renderers_own() -> None:
    t = template("{% for i in range(100) %}{{ i }}{% endfor %}")
    tight = TemplateRenderer({t.name: t}, limits=RenderLimits(max_steps=50))
    with pytest.raises(RenderBudgetError, match="over 50 steps"):
        tight.render(t.name, CONTEXT)
    small = TemplateRenderer({t.name: t}, limits=RenderLimits(max_chars=100))
    with pytest.raises(RenderBudgetError, match="over 100 characters"):
        small.render(t.name, CONTEXT)
    assert renderer_for(t).render(t.name, CONTEXT).body.startswith("0123")


def _include_chain(depth: int) -> list[TemplateDefinition]:
    """t/0 includes t/1 twice, t/1 includes t/2 twice, …: 2**depth includes, no text."""
    chain = [
        template(f'{{% include "t/{i + 1}" %}}{{% include "t/{i + 1}" %}}', name=f"t/{i}")
        for i in range(depth)
    ]
    return [*chain, template("{% if false %}x{% endif %}", name=f"t/{depth}")]


def test_includes_that_multiply_are_charged() -> None:
    templates = _include_chain(30)
    renderer = TemplateRenderer({t.name: t for t in templates})
    started = time.monotonic()
    with pytest.raises(RenderError):
        renderer.render("t/0", CONTEXT)
    assert time.monotonic() - started < 10


WITHIN = {
    "a loop over value propositions": (
        "{% for v in value_propositions %}{{ v.claim }}; {% endfor %}"
    ),
    "join and replace": '{{ ["a", "b"] | join(", ") | replace("a", "A") }} {{ "x" | indent(2) }}',
    "format": '{{ "%s and %05.1f" | format(company, 3.14159) }} {{ "{:>8}".format(company) }}',
    "string methods": "{{ company.upper().center(20).strip() }} {{ ', '.join(['a', 'b']) }}",
    "arithmetic": "{{ 2 ** 10 }} {{ 12345678901234567890 * 3 }} {{ [1, 2] + [3] }}",
    "a small lipsum": "{{ lipsum(1, false, 5, 10) | length > 0 }}",
    "tojson": "{{ value_proposition | tojson(indent=2) | length > 0 }}",
    "a string near the size limit": '{{ ("a " * 120000) | title | length }}',
    "a list of short strings": "{{ (company * 1000) | list | unique | join | length }}",
}


@pytest.mark.parametrize("body", WITHIN.values(), ids=WITHIN.keys())
def test_ordinary_templates_render(body: str) -> None:
    assert render(template(body)).body


def test_a_render_outside_the_renderer_still_caps_sizes() -> None:
    """Nothing renders outside TemplateRenderer, but the sandbox does not rely on it."""
    renderer = renderer_for(template("x"))
    env: Any = renderer._env  # the environment itself is under test
    with pytest.raises(OverBudget):
        env.from_string('{{ "x" * 1000000000 }}').render()


def test_a_template_over_budget_is_blocked_at_load_with_a_clear_message(tmp_path: Path) -> None:
    """What ``cadence init`` and the web process do: load, lint, and go on, quickly."""
    repo = Path(__file__).resolve().parents[3]
    config, templates = tmp_path / "config", tmp_path / "templates"
    shutil.copytree(repo / "config", config)
    shutil.copytree(repo / "templates", templates)
    (templates / "drip" / "loops.j2").write_text(
        "---\nkind: drip\nsubject: Loops\n---\n" + HOSTILE["three nested ranges"] + "\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    catalog = load_catalog(config, templates)
    assert time.monotonic() - started < 30
    assert catalog.blocked["drip/loops"].startswith("render-budget: ")
    assert "over the render budget" in catalog.blocked["drip/loops"]
    assert "drip/loops.j2" in catalog.blocked["drip/loops"]


DEEP = {
    "parentheses": "{{ " + "(" * 150 + "1" + ")" * 150 + " }}",
    "lists": "{{ " + "[" * 100 + "]" * 100 + " }}",
    "ifs": "{% if 1 %}" * 150 + "x" + "{% endif %}" * 150,
    "a long sum": "{{ 1" + " + 1" * 3000 + " }}",
    "attributes": "{{ value_proposition" + ".a" * 200 + " }}",
}


@pytest.mark.parametrize("body", DEEP.values(), ids=DEEP.keys())
def test_nesting_too_deep_is_refused_at_load_and_at_render(body: str) -> None:
    t = template(body)
    with pytest.raises(DefinitionError, match="nested too deeply to compile"):
        renderer_for(t).check(t)
    with pytest.raises(RenderError):
        render(t)


def test_slow_filters_in_a_loop_stop_soon_after_the_deadline() -> None:
    """The clock is read at every step, so one slow filter call is the most it overruns."""
    t = template('{% for i in range(100) %}{{ ("a.b " * 60000) | urlize | length }}{% endfor %}')
    # Room to build all of it, so that only the clock can stop it.
    renderer = TemplateRenderer({t.name: t}, limits=RenderLimits(built_factor=1000))
    started = time.monotonic()
    with pytest.raises(RenderBudgetError, match="took over 2 s"):
        renderer.render(t.name, CONTEXT)
    assert time.monotonic() - started < 2 + 3


def test_strings_built_in_a_loop_count_together() -> None:
    """The same loop under the default limits: what it builds in all stops it first."""
    t = template('{% for i in range(100) %}{{ ("a.b " * 60000) | urlize | length }}{% endfor %}')
    with pytest.raises(RenderBudgetError, match="built over 2,097,152 characters"):
        render(t)
