"""A render's budget: time, steps and text, so that no template and no prospect's data can
stall a process or fill its memory.

Jinja's sandbox keeps a template away from Python's internals but not from loops: three
nested ``range(10000)`` loops ran for hours, and a ``{% set %}`` block looping over a long
string built a gigabyte. Every render runs under a :class:`Budget` that the compiled template
charges as it goes: one step per loop iteration, call, attribute or item lookup and template
reference, and every piece of text it produces, in any block, macro or filter section, by
its length. Past any limit the render stops with :class:`OverBudget`.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import Undefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace


@dataclass(frozen=True)
class RenderLimits:
    """What one render of one template (subject and body) may use."""

    #: Wall-clock seconds, measured on a monotonic clock.
    seconds: float = 2.0
    #: Characters produced in all: the output and every block, macro or filter section
    #: that went into it. A string a template builds (``*``, ``~``, ``join``, ``replace``,
    #: ``indent``, ``format``, padding) may not be longer either.
    max_chars: int = 262_144
    #: Loop iterations, calls, attribute and item lookups, template references.
    max_steps: int = 100_000
    #: Strings and lists built in all, as a multiple of ``max_chars``: each one is capped
    #: by ``max_chars`` alone, and ten thousand of them (``map`` over a range) are not.
    built_factor: int = 8


class OverBudget(SecurityError):
    """A render went past one of its :class:`RenderLimits`."""


class Budget:
    """What is left of one render's limits; charged by the compiled template."""

    def __init__(self, limits: RenderLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._deadline = clock() + limits.seconds
        self._steps = limits.max_steps
        self._chars = limits.max_chars
        self._built = limits.max_chars * limits.built_factor

    def step(self, count: int = 1) -> None:
        self._steps -= count
        if self._steps < 0:
            raise OverBudget(
                f"over {self.limits.max_steps:,} steps (loop iterations, calls, lookups)"
            )
        self.check_clock()

    def check_clock(self) -> None:
        """Read at every step: one filter on a long string can take a tenth of a second."""
        if self._clock() > self._deadline:
            raise OverBudget(f"took over {self.limits.seconds:g} s")

    def build(self, size: int) -> None:
        """A string or list about to be built: charged before it exists."""
        self._built -= size
        if self._built < 0:
            allowed = self.limits.max_chars * self.limits.built_factor
            raise OverBudget(f"built over {allowed:,} characters of strings and lists in all")

    def produce(self, size: int) -> None:
        """Text is produced inside loops and calls, which read the clock."""
        self._chars -= size
        if self._chars < 0:
            raise OverBudget(f"produced over {self.limits.max_chars:,} characters")


_ACTIVE: ContextVar[Budget | None] = ContextVar("cadence_render_budget", default=None)


def active() -> Budget | None:
    return _ACTIVE.get()


class budget_for:
    """``with budget_for(limits, clock):`` runs a render under a fresh budget."""

    def __init__(self, limits: RenderLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._budget = Budget(limits, clock)
        self._token: Any = None

    def __enter__(self) -> Budget:
        self._token = _ACTIVE.set(self._budget)
        return self._budget

    def __exit__(self, *_: object) -> None:
        _ACTIVE.reset(self._token)


def step(count: int = 1) -> None:
    budget = _ACTIVE.get()
    if budget is not None:
        budget.step(count)


def size_limit() -> int:
    """The longest string or list a template may build: the render's limit, or the default
    when no render is under way."""
    budget = _ACTIVE.get()
    return budget.limits.max_chars if budget is not None else RenderLimits.max_chars


def check_size(size: int, what: str) -> None:
    """Refuse, before it is built, a string or list of ``size`` items past the limit, or
    past what the render may build in all."""
    limit = size_limit()
    if size > limit:
        raise OverBudget(f"{what} of {size:,} is over the limit of {limit:,}")
    budget = _ACTIVE.get()
    if budget is not None:
        budget.build(size)


def text_size(value: Any, limit: int | None = None) -> int:
    """About how long ``str(value)`` is, counted without building it, and only up to a
    little past ``limit``: a list of one long string repeated, or a tuple nested in itself by
    doubling, has a text far longer than the memory it holds."""
    if isinstance(value, str):
        return len(value)  # itself; quoted only inside a container's text
    cap = size_limit() if limit is None else limit
    total = 0
    pending = [value]
    while pending and total <= cap:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 3
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            pending.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, Undefined):
            continue  # whatever uses it says so, with its name
        elif isinstance(item, Namespace):
            pending.append(dict(item._Namespace__attrs))
        else:
            total += len(str(item))
    return total


def check_text(value: Any, what: str) -> None:
    """Refuse a value whose text would be past the limit, before it is made text."""
    if not isinstance(value, str):
        check_size(text_size(value), what)
    else:
        check_size(len(value), what)


def produced(value: Any) -> Any:
    """Charge a piece of output (text, or a value about to become text) and pass it on."""
    budget = _ACTIVE.get()
    if budget is not None:
        if isinstance(value, str):
            budget.produce(len(value))
        else:
            budget.produce(text_size(value, budget.limits.max_chars))
    return value


@pass_context  # never folded into a constant when the template is compiled
def stepped(_: Any, iterable: Iterable[Any]) -> Iterator[Any]:
    """The items of a ``{% for %}`` loop, one step each."""
    for item in iterable:
        step()
        yield item


def bounded_concat(parts: Iterable[Any]) -> str:
    """The ``~`` operator, refusing a result past the limit before it is joined."""
    items = list(parts)
    check_size(sum(text_size(item) for item in items), "a string built with ~")
    return "".join(map(str, items))


@pass_context  # never folded into a constant when the template is compiled
def stepped_reference(_: Any, name: Any) -> Any:
    """A template an include, import or extends names, for one step."""
    step()
    return name


#: The filters the compiled template calls on every loop's items and template reference.
STEP_FILTER = "cadence_stepped"
REFERENCE_FILTER = "cadence_reference"


def charge_loops(template: nodes.Template) -> nodes.Template:
    """Route every loop's items and every include, import or extends through
    :data:`STEP_FILTER`, so each iteration and each reference costs a step."""
    for loop in template.find_all(nodes.For):
        loop.iter = _filtered(loop.iter, STEP_FILTER)
    for kind in (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends):
        for node in template.find_all(kind):
            node.template = _filtered(node.template, REFERENCE_FILTER)  # type: ignore[attr-defined]
    return template


def _filtered(expr: nodes.Node, name: str) -> nodes.Expr:
    return nodes.Filter(expr, name, [], [], None, None, lineno=expr.lineno)


class BudgetCodeGenerator(CodeGenerator):
    """Jinja's code generator, with literal text charged as it is produced and ``~``
    bounded (expressions' output is charged by the environment's ``finalize``)."""

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.cadence_produced({super()._output_const_repr(group)})"

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.cadence_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")
