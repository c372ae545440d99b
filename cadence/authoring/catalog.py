"""Everything marketing defines, loaded once per process: cadences, templates, personas,
value propositions and the team. A worker never re-reads files per touch.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadence.authoring.cadence_checks import handover_cycles, unusable_cadences
from cadence.authoring.cadence_files import load_cadence_file
from cadence.authoring.config_files import (
    Persona,
    Team,
    ValueProposition,
    load_personas,
    load_team,
    load_value_propositions,
)
from cadence.authoring.render_budget import RenderLimits
from cadence.authoring.rendering import TemplateRenderer
from cadence.authoring.template_files import TEMPLATE_SUFFIX, read_template
from cadence.core.domain import CadenceDefinition, ReplyPolicy, TemplateDefinition
from cadence.core.errors import ConflictError, DefinitionError, NotFoundError


@dataclass(frozen=True)
class PersonaContext:
    persona: dict[str, Any] | None
    value_propositions: list[dict[str, Any]]


@dataclass(frozen=True)
class Catalog:
    cadences: Mapping[str, CadenceDefinition]
    templates: Mapping[str, TemplateDefinition]
    personas: Mapping[str, Persona]
    value_propositions: tuple[ValueProposition, ...]
    team: Team
    renderer: TemplateRenderer = field(repr=False, compare=False)
    #: Templates with lint errors, and why: they are never sent (their touches fail).
    blocked: Mapping[str, str] = field(default_factory=dict)
    #: Cadences that fail validation, and why: nobody may be enrolled in them.
    unusable: Mapping[str, str] = field(default_factory=dict)
    _persona_contexts: dict[str, "PersonaContext"] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def cadence(self, name: str) -> CadenceDefinition:
        try:
            return self.cadences[name]
        except KeyError:
            known = ", ".join(sorted(self.cadences)) or "none"
            raise NotFoundError(f"no cadence named {name!r}; known cadences: {known}") from None

    def enrollable(self, name: str) -> CadenceDefinition:
        """The cadence to enroll prospects in. Raises :class:`NotFoundError` for an unknown
        name and :class:`ConflictError` for a cadence that fails validation (its touches
        would only fail when due), saying why."""
        cadence = self.cadence(name)
        why = self.unusable.get(name)
        if why is not None:
            raise ConflictError(
                f"cadence {name!r} fails validation, so nobody can be enrolled in it: {why}; "
                "fix it (cadence cadences validate) and try again"
            )
        return cadence

    @property
    def pauses_accounts(self) -> bool:
        """Whether a reply can pause colleagues (some cadence has on_reply = "halt_account"):
        only then does a reply lock every enrollment at the company."""
        return any(c.on_reply == ReplyPolicy.HALT_ACCOUNT for c in self.cadences.values())

    def persona_context(self, persona: str | None) -> "PersonaContext":
        """The persona and its value propositions as templates see them, dumped once per
        catalog rather than per touch. Renders share them: the sandbox cannot mutate them."""
        key = persona or ""
        cached = self._persona_contexts.get(key)
        if cached is None:
            found = self.personas.get(key)
            cached = PersonaContext(
                persona=found.model_dump() if found is not None else None,
                value_propositions=[v.model_dump() for v in self.value_propositions_for(persona)],
            )
            self._persona_contexts[key] = cached
        return cached

    def value_propositions_for(self, persona: str | None) -> tuple[ValueProposition, ...]:
        """The persona's own propositions first, then the general ones."""
        own = [v for v in self.value_propositions if persona and persona in v.personas]
        general = [v for v in self.value_propositions if not v.personas]
        rest = [v for v in self.value_propositions if v not in own and v not in general]
        return tuple(own + general + rest)


def load_templates(templates_dir: Path) -> dict[str, TemplateDefinition]:
    if not templates_dir.is_dir():
        raise DefinitionError(
            f"{templates_dir}: templates folder not found; set CADENCE_TEMPLATES_DIR"
        )
    templates = {}
    for path in sorted(templates_dir.rglob(f"*{TEMPLATE_SUFFIX}")):
        template = read_template(path, templates_dir)
        templates[template.name] = template
    return templates


def load_catalog(
    config_dir: Path, templates_dir: Path, *, render_limits: RenderLimits | None = None
) -> Catalog:
    """Load and cross-check all definitions; every problem found is reported at once.
    Templates render within ``render_limits`` (the defaults when not given)."""
    problems: list[str] = []
    templates: dict[str, TemplateDefinition] = {}
    try:
        templates = load_templates(templates_dir)
    except DefinitionError as exc:
        problems.append(str(exc))
    renderer = TemplateRenderer(templates, limits=render_limits)
    for template in templates.values():
        try:
            renderer.check(template)
        except DefinitionError as exc:
            problems.append(str(exc))
    kinds = {name: t.kind for name, t in templates.items()}
    cadences: dict[str, CadenceDefinition] = {}
    cadence_dir = config_dir / "cadences"
    for path in sorted(cadence_dir.glob("*.toml")) if cadence_dir.is_dir() else []:
        try:
            cadence = load_cadence_file(path, kinds)
        except DefinitionError as exc:
            problems.append(str(exc))
            continue
        if cadence.name in cadences:
            problems.append(
                f"{path}: name: {cadence.name!r} is already defined in "
                f"{cadences[cadence.name].source}"
            )
        cadences[cadence.name] = cadence
    for cadence in cadences.values():
        if cadence.on_complete and cadence.on_complete not in cadences:
            problems.append(
                f"{cadence.source}: on_complete: no cadence named {cadence.on_complete!r}"
            )
    for cycle in handover_cycles(cadences):
        problems.append(
            f"{cadences[cycle[0]].source}: on_complete: hands over in a cycle "
            f"({' -> '.join(cycle)}); a prospect in it would never leave; end the chain"
        )
    personas: dict[str, Persona] = {}
    props: tuple[ValueProposition, ...] = ()
    team = None
    for load in ("personas", "props", "team"):
        try:
            if load == "personas":
                personas = load_personas(config_dir)
            elif load == "props":
                props = load_value_propositions(config_dir, personas)
            else:
                team = load_team(config_dir)
        except DefinitionError as exc:
            problems.append(str(exc))
    if problems or team is None:
        raise DefinitionError("\n".join(problems))
    blocked = _lint_errors(config_dir, cadences, templates, renderer, team, personas, props)
    return Catalog(
        cadences=cadences,
        templates=templates,
        personas=personas,
        value_propositions=props,
        team=team,
        renderer=renderer,
        blocked=blocked,
        unusable=unusable_cadences(cadences, blocked),
    )


def _lint_errors(
    config_dir: Path,
    cadences: Mapping[str, CadenceDefinition],
    templates: Mapping[str, TemplateDefinition],
    renderer: TemplateRenderer,
    team: Team,
    personas: Mapping[str, Persona],
    props: tuple[ValueProposition, ...],
) -> dict[str, str]:
    """Lint every template as loaded; a template with an error may not be used."""
    from cadence.authoring.template_lint import lint_templates, load_lint_rules

    first_touch = {name for c in cadences.values() for name in c.steps[0].templates}
    findings = lint_templates(
        templates.values(),
        renderer=renderer,
        team=team,
        personas=personas,
        value_propositions=props,
        first_touch_templates=first_touch,
        rules=load_lint_rules(config_dir),
    )
    by_path = {t.path: name for name, t in templates.items()}
    blocked: dict[str, str] = {}
    for finding in findings:
        if finding.severity == "error" and finding.file in by_path:
            blocked.setdefault(by_path[finding.file], f"{finding.rule}: {finding.message}")
    return blocked
