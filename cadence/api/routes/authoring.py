"""``/api/v1/templates`` and ``/api/v1/cadences``: what marketing wrote, as this process
loaded it, with the linter's findings. Read-only: marketing edits files, not rows."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from cadence.authoring.template_lint import lint_templates, load_lint_rules
from cadence.core.domain import CadenceDefinition
from cadence.web.errors import CadenceRoute
from cadence.web.security import Author, Ctx

router = APIRouter(route_class=CadenceRoute, tags=["templates and cadences"])


class TemplateOut(BaseModel):
    name: str
    kind: str
    channel: str
    version: str
    subject: str | None
    description: str
    path: str


class StepOut(BaseModel):
    number: int
    template: str
    variants: list[str]
    kind: str
    channel: str
    thread: str
    delay_days: int
    delay_seconds: int


class CadenceOut(BaseModel):
    name: str
    description: str
    business_days: bool
    on_reply: str
    on_complete: str | None
    min_stage: str | None
    steps: list[StepOut]


class FindingOut(BaseModel):
    rule: str
    severity: str
    file: str
    line: int
    message: str


def _shown(path: str, root: Path) -> str:
    """A template's path inside the templates folder: the server's layout is not the
    caller's business."""
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return Path(path).name


@router.get("/templates", response_model=list[TemplateOut])
def templates(ctx: Ctx, who: Author) -> list[TemplateOut]:
    return [
        TemplateOut(
            name=t.name,
            kind=t.kind.value,
            channel=t.kind.channel.value,
            version=t.version,
            subject=t.subject,
            description=t.description,
            path=_shown(t.path, ctx.settings.templates_dir),
        )
        for t in sorted(ctx.catalog.templates.values(), key=lambda t: t.name)
    ]


@router.get("/templates/lint", response_model=list[FindingOut])
def lint(ctx: Ctx, who: Author) -> list[FindingOut]:
    """The loaded templates checked as ``cadence templates lint`` does."""
    catalog = ctx.catalog
    root = ctx.settings.templates_dir
    findings = lint_templates(
        catalog.templates.values(),
        renderer=catalog.renderer,
        team=catalog.team,
        personas=catalog.personas,
        value_propositions=catalog.value_propositions,
        first_touch_templates={
            name for c in catalog.cadences.values() for name in c.steps[0].templates
        },
        rules=load_lint_rules(ctx.settings.config_dir),
    )
    return [
        FindingOut(
            rule=f.rule,
            severity=f.severity,
            file=_shown(f.file, root),
            line=f.line,
            message=f.message.replace(str(root.resolve()) + "/", "").replace(str(root) + "/", ""),
        )
        for f in findings
    ]


@router.get("/cadences", response_model=list[CadenceOut])
def cadences(ctx: Ctx, who: Author) -> list[CadenceOut]:
    return [_cadence(c) for _, c in sorted(ctx.catalog.cadences.items())]


def _cadence(cadence: CadenceDefinition) -> CadenceOut:
    steps: list[Any] = [
        StepOut(
            number=s.number,
            template=s.template,
            variants=list(s.variants),
            kind=s.kind.value,
            channel=s.channel.value,
            thread=s.thread.value,
            delay_days=s.delay.days,
            delay_seconds=int(s.delay.duration.total_seconds()),
        )
        for s in cadence.steps
    ]
    return CadenceOut(
        name=cadence.name,
        description=cadence.description,
        business_days=cadence.business_days,
        on_reply=cadence.on_reply.value,
        on_complete=cadence.on_complete,
        min_stage=cadence.min_stage.value if cadence.min_stage else None,
        steps=steps,
    )
