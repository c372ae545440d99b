"""Jinja's immutable sandbox, with every operation that can build a large value bounded.

The stock sandbox caps ``range`` at 100,000 items and nothing else: ``"x" * 10**9``, a join
of a range with a long separator, ``indent(10**9)``, ``"%*s" | format(10**9, "")``, a
``replace`` that multiplies a string, or ``lipsum(10**6)`` each allocated a gigabyte. Here
each is refused before it allocates, against the render's
:attr:`~cadence.authoring.render_budget.RenderLimits.max_chars`; calls, lookups and loops are
charged to its budget (:mod:`cadence.authoring.render_budget`).
"""

import functools
import operator
import re
import string
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from jinja2 import filters, nodes, pass_environment, pass_eval_context, utils
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cadence.authoring import render_budget
from cadence.authoring.render_budget import (
    REFERENCE_FILTER,
    STEP_FILTER,
    BudgetCodeGenerator,
    OverBudget,
    check_size,
    check_text,
    step,
    text_size,
)

#: A template is a short email, not a computation.
MAX_RANGE = 10_000
_MAX_INT_BITS = 4096
_MAX_SLICES = 1000
_MAX_JSON_INDENT = 16
_MAX_URLIZE_EXTRA = 200
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)")
_SEQUENCES = (str, bytes, list, tuple)
#: String methods that only read or shrink; the growing ones are checked in ``call``.
_READING = frozenset(
    [
        "capitalize",
        "casefold",
        "count",
        "encode",
        "decode",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "rfind",
        "rindex",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    ]
)


def _bounded_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_RANGE:
        raise OverBudget(f"range of {len(span):,} is over the template limit of {MAX_RANGE:,}")
    return span


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    check_size(n * max * 12, "lipsum text")
    return str(utils.generate_lorem_ipsum(n, html, min, max))


def check_format(template: str, args: Iterable[Any], *, braces: bool) -> None:
    """Refuse a ``%`` or ``{}`` format whose widths, precisions or repeated fields would
    build a string past the limit (``"%*s"``, ``"{:>{w}}"`` and ``"{0}" * n`` among them)."""
    limit = render_budget.size_limit()
    if braces:
        specs = [
            spec or ""
            for _, field, spec, _ in string.Formatter().parse(template)
            if field is not None
        ]
        if any("{" in spec for spec in specs):
            raise OverBudget("a format width taken from an argument is not allowed in templates")
        widths = [int(n) for spec in specs for n in re.findall(r"\d+", spec)]
    else:
        found = [m for m in _PERCENT_SPEC.finditer(template) if m.group(3) != "%"]
        if any("*" in (m.group(1) or "", m.group(2) or "") for m in found):
            raise OverBudget("a format width taken from an argument is not allowed in templates")
        specs = [m.group(0) for m in found]
        widths = [int(n) for m in found for n in (m.group(1), m.group(2)) if n]
    widest = max(widths, default=0)
    if widest > limit:
        raise OverBudget(f"a format width of {widest:,} is over the limit of {limit:,}")
    longest = max((text_size(a) for a in args), default=0)
    check_size(len(template) + len(specs) * (longest + widest), "a formatted string")


def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    values = [*args, *kwargs.values()]
    if len(values) == 1 and isinstance(values[0], dict):
        return list(values[0].values())
    return [v for a in values for v in (a if isinstance(a, tuple) else (a,))]


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    step(len(items))
    size = len(d) * max(len(items) - 1, 0) + sum(text_size(i) for i in items)
    check_size(size, "a joined string")
    return str(filters.do_join(eval_ctx, items, d, attribute))


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: Any, old: str, new: str, count: int | None = None) -> str:
    text = str(s)
    check_size(_replaced_size(text, str(old), str(new), count), "a replaced string")
    return str(filters.do_replace(eval_ctx, s, old, new, count))


def _replaced_size(text: str, old: str, new: str, count: int | None) -> int:
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    pad = width if isinstance(width, int) else len(str(width))
    check_size(len(text) + (text.count("\n") + 1) * pad, "an indented string")
    return filters.do_indent(text, width, first, blank)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    check_format(str(value), _arguments(args, kwargs), braces=False)
    return filters.do_format(value, *args, **kwargs)


def _center(value: Any, width: int = 80) -> str:
    check_size(width, "a centred width")
    return filters.do_center(value, width)


@pass_environment
def _wordwrap(environment: Any, s: Any, width: int = 79, *args: Any, **kwargs: Any) -> str:
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    text = str(s)
    check_size(len(text) * (1 + len(wrapstring or "\n")), "a wrapped string")
    return filters.do_wordwrap(environment, s, width, *args, **kwargs)


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
    check_size(linecount, "a batch")
    return filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    if slices > _MAX_SLICES:
        raise OverBudget(f"slice into {slices:,} is over the limit of {_MAX_SLICES:,}")
    return filters.do_slice(value, slices, fill_with)


@pass_environment
def _sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    if not isinstance(start, int | float) or isinstance(start, bool):
        raise OverBudget("sum adds numbers only in templates")
    return filters.do_sum(environment, iterable, attribute, start)


@pass_eval_context
def _tojson(eval_ctx: EvalContext, value: Any, indent: int | None = None) -> Any:
    if indent is not None and (not isinstance(indent, int) or indent > _MAX_JSON_INDENT):
        raise OverBudget(f"tojson indent is at most {_MAX_JSON_INDENT}")
    return filters.do_tojson(eval_ctx, value, indent)


@pass_eval_context
def _urlize(eval_ctx: EvalContext, value: Any, *args: Any, **kwargs: Any) -> str:
    extras = [v for v in (*args, *kwargs.values()) if isinstance(v, str)]
    if any(len(v) > _MAX_URLIZE_EXTRA for v in extras):
        raise OverBudget(f"urlize target and rel are at most {_MAX_URLIZE_EXTRA} characters")
    return str(filters.do_urlize(eval_ctx, value, *args, **kwargs))


_BOUNDED_FILTERS = {
    "join": _join,
    "replace": _replace,
    "indent": _indent,
    "format": _format,
    "center": _center,
    "wordwrap": _wordwrap,
    "batch": _batch,
    "slice": _slice,
    "sum": _sum,
    "tojson": _tojson,
    "urlize": _urlize,
    STEP_FILTER: render_budget.stepped,
    REFERENCE_FILTER: render_budget.stepped_reference,
}


def _text_checked(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its input refused when its text would be past the limit: every filter
    may make its input text (``upper``, ``string``, ``tojson``, ``pprint`` …)."""
    offset = 0 if getattr(fn, "jinja_pass_arg", None) is None else 1

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if len(args) > offset:
            check_text(args[offset], f"the input of {name}")
        return fn(*args, **kwargs)

    return checked


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with growth bounded and every step charged to the render's
    budget (a render outside :func:`~cadence.authoring.render_budget.budget_for` is
    charged nothing, but its sizes are still capped at the default limit)."""

    code_generator_class = BudgetCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=render_budget.produced, **options)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _bounded_lipsum
        self.filters.update(_BOUNDED_FILTERS)
        for name, fn in list(self.filters.items()):
            if name not in (STEP_FILTER, REFERENCE_FILTER):
                self.filters[name] = _text_checked(name, fn)

    cadence_produced = staticmethod(render_budget.produced)
    cadence_concat = staticmethod(render_budget.bounded_concat)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as one dict: Jinja's ChainMap over the environment's was
        iterated by every render to build its context, at a cost. This
        sandbox's globals are set when it is made and never change, so a copy stays true."""
        return {**self.globals, **(d or {})}

    def _generate(self, source: nodes.Template, *args: Any, **kwargs: Any) -> str:
        """Compile with every loop and template reference charged (``parse`` is left as
        written, so the checks at load see the template's own names and includes)."""
        return str(super()._generate(render_budget.charge_loops(source), *args, **kwargs))

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int) and isinstance(left, int):
                if max(left.bit_length(), 1) * abs(right) > _MAX_INT_BITS:
                    raise OverBudget("a power too large for a template")
            elif isinstance(right, int | float) and abs(right) > 64:
                raise OverBudget("exponent too large for a template")
            return operator.pow(left, right)
        if operator_name == "%":
            if isinstance(left, str):
                values = right if isinstance(right, tuple) else (right,)
                check_format(left, _arguments(values, {}), braces=False)
            return operator.mod(left, right)
        if operator_name == "+":
            if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
                check_size(text_size(left) + text_size(right), "a joined sequence")
            return operator.add(left, right)
        if isinstance(left, _SEQUENCES) or isinstance(right, _SEQUENCES):
            seq, count = (left, right) if isinstance(left, _SEQUENCES) else (right, left)
            if isinstance(count, int):
                check_size(text_size(seq) * count, "a repeated sequence")
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > _MAX_INT_BITS
        ):
            raise OverBudget("a product too large for a template")
        return operator.mul(left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        step()
        return super().getitem(obj, argument)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        step()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):
            args = _checked_text_call(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """``'{:99999999}'.format(x)`` and its kin are refused before they allocate."""
        wrapped = super().wrap_str_format(value)
        owner = getattr(value, "__self__", None)
        if wrapped is None or not isinstance(owner, str):
            return wrapped

        def checked(*args: Any, **kwargs: Any) -> Any:
            check_format(owner, _arguments(args, kwargs), braces=True)
            return wrapped(*args, **kwargs)

        return checked


def _checked_text_call(
    owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """The arguments of a string method call, once checked: methods that grow a string are
    bounded, those that read or shrink pass, the rest (``translate``, ``maketrans``, ``hex``
    …) are not for templates. A join's items are read once, here, and passed on as a list."""
    if name in _READING or name in ("format", "format_map"):
        return args
    numbers = [v for v in (*args, *kwargs.values()) if isinstance(v, int)]
    if name in ("center", "ljust", "rjust", "zfill"):
        check_size(max([len(owner), *numbers]), "a padded string")
    elif name == "expandtabs":
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        check_size(len(owner) + tabs * max([8, *numbers]), "a string with tabs expanded")
    elif name == "replace" and isinstance(owner, str) and len(args) >= 2:
        count = args[2] if len(args) > 2 else None
        check_size(_replaced_size(owner, str(args[0]), str(args[1]), count), "a replaced string")
    elif name == "join" and args:
        items = list(args[0])
        step(len(items))
        size = len(owner) * max(len(items) - 1, 0) + sum(text_size(i) for i in items)
        check_size(size, "a joined string")
        return (items, *args[1:])
    else:
        raise OverBudget(f"the string method {name!r} is not available in templates")
    return args
