"""Lint templates as they will be sent: render each one for a sample prospect of every
persona, find variables that fail for a prospect missing optional fields, and hand the
results to the pure linter (:mod:`cadence.authoring.lint.linter`)."""

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2.exceptions import UndefinedError

from cadence.authoring.config_files import Persona, Sender, Team, ValueProposition
from cadence.authoring.lint.linter import (
    DEFAULT_RULES,
    Finding,
    LintRules,
    RenderedSample,
    TemplateUnderLint,
    lint_template,
)
from cadence.authoring.rendering import RenderBudgetError, TemplateRenderer
from cadence.core.domain import TemplateDefinition
from cadence.core.errors import DefinitionError, RenderError

_UNDEFINED_NAME = re.compile(r"'(?:[^']*' (?:object )?has no attribute '|)([A-Za-z_][\w]*)'")
_MAX_MISSING = 25


def load_lint_rules(config_dir: Path) -> LintRules:
    path = config_dir / "lint.toml"
    if not path.exists():
        return DEFAULT_RULES
    try:
        return LintRules.from_mapping(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValueError, OSError) as exc:
        raise DefinitionError(f"{path}: {exc}") from exc


def sample_context(
    team: Team,
    sender: Sender,
    persona: Persona | None,
    propositions: tuple[ValueProposition, ...],
    *,
    complete: bool,
) -> dict[str, Any]:
    """A plausible prospect; ``complete=False`` leaves out every optional field."""
    props = [p.model_dump() for p in propositions]
    context: dict[str, Any] = {
        "email": "sam.rivera@example.com",
        "stage": "in_profile",
        "unsubscribe_url": "https://cadence.example/unsubscribe/sample-token-0000",
        "cadence": "sample",
        "step": 1,
        "custom": {},
        "value_propositions": props,
        "sender": {
            "name": sender.full_name,
            "first_name": sender.first_name,
            "email": str(sender.email),
            "title": sender.title,
            "phone": sender.phone,
            "company": team.company.name,
            "postal_address": team.company.postal_address,
        },
    }
    if props:
        context["value_proposition"] = props[0]
    if complete:
        context.update(
            first_name="Sam",
            last_name="Rivera",
            full_name="Sam Rivera",
            company="Example Corp",
            title=persona.name if persona else "Director",
        )
        if persona is not None:
            context["persona"] = persona.model_dump()
    return context


def _missing_variables(
    renderer: TemplateRenderer, template: TemplateDefinition, context: dict[str, Any]
) -> list[tuple[str, int]]:
    """Variables without a fallback: render sparse, fill each one that fails, render again."""
    found: list[tuple[str, int]] = []
    context = dict(context)
    for _ in range(_MAX_MISSING):
        try:
            renderer.render(template.name, context)
            return found
        except RenderError as exc:
            cause = exc.__cause__
            if not isinstance(cause, UndefinedError):
                return found
            match = _UNDEFINED_NAME.search(cause.message or "")
            if match is None:
                return found
            name = match.group(1)
            line = _line_of(str(exc), template)
            found.append((name, line))
            if name in context and isinstance(context[name], dict):
                context[name] = {**context[name], **{name: "sample"}}
                return found
            context[name] = "sample"
    return found


def _line_of(message: str, template: TemplateDefinition) -> int:
    match = re.search(re.escape(template.path) + r":(\d+)", message)
    return int(match.group(1)) if match else template.body_start_line


def lint_templates(
    templates: Iterable[TemplateDefinition],
    *,
    renderer: TemplateRenderer,
    team: Team,
    personas: Mapping[str, Persona],
    value_propositions: tuple[ValueProposition, ...],
    first_touch_templates: set[str],
    rules: LintRules,
) -> list[Finding]:
    sender = team.sender(None)
    claims = [p.claim for p in value_propositions]
    findings: list[Finding] = []
    for template in templates:
        samples: list[RenderedSample] = []
        for persona in [*personas.values(), None]:
            key = persona.key if persona else None
            own = tuple(p for p in value_propositions if key in p.personas) or value_propositions
            context = sample_context(team, sender, persona, own, complete=True)
            try:
                rendered = renderer.render(template.name, context)
            except RenderError as exc:
                over = isinstance(exc, RenderBudgetError)
                findings.append(
                    Finding(
                        "render-budget" if over else "render-error",
                        "error",
                        template.path,
                        _line_of(str(exc), template),
                        str(exc),
                    )
                )
                if over:  # another persona would only spend the same budget again
                    break
                continue
            samples.append(RenderedSample(key, rendered.subject or "", rendered.body))
        sparse = sample_context(team, sender, None, value_propositions, complete=False)
        findings.extend(
            lint_template(
                TemplateUnderLint(
                    file=template.path,
                    kind=template.kind.value,
                    source=template.source,
                    body_start_line=template.body_start_line,
                    is_first_touch=template.name in first_touch_templates,
                    samples=tuple(samples),
                    empty_variables=tuple(_missing_variables(renderer, template, sparse)),
                ),
                rules,
                claims,
            )
        )
    return sorted(findings, key=lambda f: (f.file, f.line, f.rule))
