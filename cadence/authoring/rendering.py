"""Render touches from marketing's templates in Jinja's immutable sandbox.

Templates are untrusted input (design invariant 5): the sandbox blocks Python internals,
``StrictUndefined`` turns a missing value into an error instead of "Hi ,", and includes
resolve only to other loaded templates, never to files.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from jinja2 import BaseLoader, Environment, StrictUndefined, TemplateNotFound, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError

from cadence.authoring.render_budget import OverBudget, RenderLimits, budget_for
from cadence.authoring.sandbox import Sandbox
from cadence.core.domain import TemplateDefinition
from cadence.core.errors import DefinitionError, RenderError

#: Names a template may use; anything else is rejected when the template loads.
CONTEXT_NAMES = frozenset(
    {
        "first_name",
        "last_name",
        "full_name",
        "email",
        "company",
        "title",
        "stage",
        "persona",
        "value_propositions",
        "value_proposition",
        "sender",
        "custom",
        "unsubscribe_url",
        "step",
        "cadence",
    }
)
#: A rendered body longer than this is a runaway loop, not an email.
MAX_RENDERED_CHARS = 50_000


class RenderBudgetError(RenderError):
    """A render went over its time, step or size budget: the touch fails alone, and a
    template that does so for the lint's sample prospects is blocked."""


@dataclass(frozen=True)
class RenderedContent:
    subject: str | None
    body: str


class _CatalogLoader(BaseLoader):
    """Resolves ``{% include %}`` to loaded templates only: nothing on disk is reachable."""

    def __init__(self, templates: Mapping[str, TemplateDefinition]) -> None:
        self._templates = templates

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        found = self._templates.get(template)
        if found is None:
            raise TemplateNotFound(template)
        return found.body, found.path, lambda: True


class TemplateRenderer:
    """Compiles each template once per version and renders it for one prospect's context."""

    def __init__(
        self,
        templates: Mapping[str, TemplateDefinition],
        *,
        limits: RenderLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._templates = templates
        self.limits = limits or RenderLimits()
        self._clock = clock
        self._env = Sandbox(
            loader=_CatalogLoader(templates),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            auto_reload=False,
            cache_size=-1,
        )
        self._subjects: dict[tuple[str, str], Any] = {}

    def check(self, template: TemplateDefinition) -> None:
        """Reject syntax errors, unknown variables and nesting too deep to compile at load,
        naming file and line."""
        for label, source, first_line in (
            ("body", template.body, template.body_start_line),
            ("subject", template.subject or "", 1),
        ):
            try:
                self._check_source(template, label, source, first_line)
                self._env.compile(source, filename=template.path)
            except (RecursionError, SyntaxError) as exc:  # Python's limits, not Jinja's
                raise DefinitionError(
                    f"{template.path}: {label}: nested too deeply to compile; flatten the "
                    "expressions and blocks"
                ) from exc

    def _check_source(
        self, template: TemplateDefinition, label: str, source: str, first_line: int
    ) -> None:
        try:
            ast = self._env.parse(source)
        except TemplateSyntaxError as exc:
            line = (exc.lineno or 1) + first_line - 1
            raise DefinitionError(f"{template.path}:{line}: {label}: {exc.message}") from exc
        unknown = meta.find_undeclared_variables(ast) - CONTEXT_NAMES - set(self._env.globals)
        if unknown:
            names = ", ".join(sorted(unknown))
            allowed = ", ".join(sorted(CONTEXT_NAMES))
            line = (
                min(
                    (n.lineno for n in ast.find_all(nodes.Name) if n.name in unknown),
                    default=1,
                )
                + first_line
                - 1
            )
            raise DefinitionError(
                f"{template.path}:{line}: {label} uses unknown variable(s) {names}; "
                f"available: {allowed} (custom CSV columns are custom.NAME)"
            )
        for included in meta.find_referenced_templates(ast):
            if included is not None and included not in self._templates:
                raise DefinitionError(
                    f"{template.path}: {label} includes {included!r}, "
                    "which is not a template in the templates folder"
                )

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedContent:
        """Render subject and body within :attr:`limits`; raises :class:`RenderError` with
        file and line (:class:`RenderBudgetError` when over the budget)."""
        template = self._templates.get(name)
        if template is None:
            raise RenderError(f"template {name!r} is not loaded")
        try:
            with budget_for(self.limits, self._clock):
                return self._render(template, context)
        except OverBudget as exc:
            raise RenderBudgetError(
                f"{_where(template, exc.__traceback__, self._templates)}: over the render "
                f"budget: {exc}; keep loops small and never loop over a prospect's data "
                "(CADENCE_RENDER_* settings raise the limits)"
            ) from exc

    def _render(self, template: TemplateDefinition, context: Mapping[str, Any]) -> RenderedContent:
        name = template.name
        try:
            body = self._env.get_template(name).render(context).strip()
            subject = None
            if template.subject is not None:
                key = (name, template.version)
                if key not in self._subjects:
                    self._subjects[key] = self._env.from_string(template.subject)
                subject = " ".join(self._subjects[key].render(context).split())
        except OverBudget:
            raise  # render() says which limit, with the file and line
        except UndefinedError as exc:
            raise RenderError(
                f"{_where(template, exc.__traceback__, self._templates)}: {exc.message}; give it "
                'a fallback such as {{ first_name | default("there") }} or fill it in for this '
                "prospect"
            ) from exc
        except SecurityError as exc:
            raise RenderError(
                f"{_where(template, exc.__traceback__, self._templates)}: blocked: {exc}"
            ) from exc
        except TemplateError as exc:
            raise RenderError(
                f"{_where(template, exc.__traceback__, self._templates)}: {exc}"
            ) from exc
        except (
            ArithmeticError,
            TypeError,
            ValueError,
            LookupError,
            RecursionError,
            SyntaxError,
        ) as exc:
            raise RenderError(
                f"{_where(template, exc.__traceback__, self._templates)}: {exc!r}"
            ) from exc
        if not body:
            raise RenderError(f"{template.path}: rendered body is empty")
        if len(body) > MAX_RENDERED_CHARS:
            raise RenderError(f"{template.path}: rendered body over {MAX_RENDERED_CHARS} chars")
        if subject is not None and not subject:
            raise RenderError(f"{template.path}: rendered subject is empty")
        return RenderedContent(subject=subject, body=body)


def _where(
    template: TemplateDefinition,
    tb: TracebackType | None,
    templates: Mapping[str, TemplateDefinition],
) -> str:
    """``path:line`` of the innermost template frame in a Jinja-rewritten traceback, with
    the body's line turned into the file's (front matter included)."""
    starts = {t.path: t.body_start_line for t in templates.values()}
    where = template.path
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if path in starts:
            where = f"{path}:{tb.tb_lineno + starts[path] - 1}"
        tb = tb.tb_next
    return where
