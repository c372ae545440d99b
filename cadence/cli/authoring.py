"""Marketing's commands: ``cadence templates …`` and ``cadence cadences validate``."""

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cadence.authoring.cadence_checks import CadenceFinding, check_cadence
from cadence.authoring.catalog import load_catalog
from cadence.authoring.config_files import load_personas, load_team, load_value_propositions
from cadence.authoring.lint.linter import Finding
from cadence.authoring.rendering import TemplateRenderer
from cadence.authoring.template_files import TEMPLATE_SUFFIX, read_template
from cadence.authoring.template_lint import lint_templates, load_lint_rules
from cadence.cli.console import err_console, handle_errors, out_console, print_json
from cadence.core.domain import TemplateDefinition
from cadence.core.errors import DefinitionError
from cadence.runtime.settings import Settings, load_settings, render_limits

templates_app = typer.Typer(help="Marketing's templates: lint, preview.", no_args_is_help=True)
cadences_app = typer.Typer(help="Cadence files: validate.", no_args_is_help=True)

_LINE = re.compile(r":(\d+):")


class PreviewFormat(StrEnum):
    text = "text"
    eml = "eml"


def _finding_dict(f: Finding) -> dict[str, object]:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "file": f.file,
        "line": f.line,
        "message": f.message,
    }


def _print_findings(findings: list[Finding], title: str) -> None:
    table = Table(title=title)
    for column in ("severity", "rule", "file", "line", "message"):
        table.add_column(column, overflow="fold")
    for f in findings:
        style = "red" if f.severity == "error" else "yellow"
        table.add_row(f.severity, f.rule, f.file, str(f.line), f.message, style=style)
    out_console.print(table)


def _selected(paths: list[Path], root: Path) -> tuple[list[Path], list[Finding]]:
    files: list[Path] = []
    problems: list[Finding] = []
    for path in paths or [root]:
        if path.is_dir():
            files.extend(sorted(path.rglob(f"*{TEMPLATE_SUFFIX}")))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Finding("not-found", "error", str(path), 1, "no such file or folder"))
    return files, problems


@templates_app.command("lint")
def lint(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check templates against the executive-email rules; exit status 1 on any error."""
    settings = load_settings()
    root = settings.templates_dir
    with handle_errors():
        team = load_team(settings.config_dir)
        personas = load_personas(settings.config_dir)
        props = load_value_propositions(settings.config_dir, personas)
        rules = load_lint_rules(settings.config_dir)
    files, findings = _selected(list(paths or []), root)
    all_templates: dict[str, TemplateDefinition] = {}
    if root.is_dir():
        for path in sorted(root.rglob(f"*{TEMPLATE_SUFFIX}")):
            try:
                template = read_template(path, root)
                all_templates[template.name] = template
            except DefinitionError:
                pass  # reported below if selected
    chosen: list[TemplateDefinition] = []
    for path in files:
        try:
            inside = path.resolve().is_relative_to(root.resolve())
            template = read_template(path, root if inside else path.parent)
        except DefinitionError as exc:
            findings.append(_load_finding(str(path), exc))
            continue
        all_templates.setdefault(template.name, template)
        chosen.append(template)
    renderer = TemplateRenderer(all_templates, limits=render_limits(settings))
    loadable = []
    for template in chosen:
        try:
            renderer.check(template)
            loadable.append(template)
        except DefinitionError as exc:
            findings.append(_load_finding(template.path, exc))
    first_touch = _first_touch_templates(settings)
    findings.extend(
        lint_templates(
            loadable,
            renderer=renderer,
            team=team,
            personas=personas,
            value_propositions=props,
            first_touch_templates=first_touch,
            rules=rules,
        )
    )
    errors = sum(1 for f in findings if f.severity == "error")
    if as_json:
        print_json([_finding_dict(f) for f in findings])
    else:
        if findings:
            _print_findings(findings, "Template lint")
        err_console.print(
            f"{len(chosen)} templates: {errors} errors, {len(findings) - errors} warnings"
        )
    if errors:
        raise typer.Exit(1)


def _load_finding(path: str, exc: DefinitionError) -> Finding:
    match = _LINE.search(str(exc))
    return Finding("load-error", "error", path, int(match.group(1)) if match else 1, str(exc))


def _first_touch_templates(settings: Settings) -> set[str]:
    try:
        catalog = load_catalog(
            settings.config_dir, settings.templates_dir, render_limits=render_limits(settings)
        )
    except DefinitionError:
        return set()
    return {name for c in catalog.cadences.values() for name in c.steps[0].templates}


@templates_app.command("preview")
def preview(
    name: Annotated[str, typer.Argument(help="Template name, e.g. ceo/intro.")],
    email: Annotated[str | None, typer.Option("--email", help="A prospect in the store.")] = None,
    persona: Annotated[str | None, typer.Option("--persona", help="A sample of a persona.")] = None,
    fmt: Annotated[PreviewFormat, typer.Option("--format")] = PreviewFormat.text,
) -> None:
    """Exactly what would be sent, headers included."""
    from cadence.core.clock import SystemClock
    from cadence.delivery.preview import preview_message

    if (email is None) == (persona is None):
        raise typer.BadParameter("give exactly one of --email or --persona")
    with handle_errors():
        message = preview_message(
            load_settings(), name, email=email, persona=persona, now=SystemClock().now()
        )
    if fmt is PreviewFormat.eml:
        typer.echo(message.as_bytes().decode("utf-8", errors="replace"), nl=False)
        return
    for header in ("From", "To", "Subject", "In-Reply-To", "List-Unsubscribe"):
        if message[header]:
            out_console.print(f"[bold]{header}:[/] {message[header]}", highlight=False)
    out_console.print()
    body = message.get_body(("plain",))
    out_console.print(body.get_content() if body else "", markup=False, highlight=False)


@cadences_app.command("validate")
def validate(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check every cadence file; exit status 1 on any error."""
    settings = load_settings()
    try:
        catalog = load_catalog(
            settings.config_dir, settings.templates_dir, render_limits=render_limits(settings)
        )
    except DefinitionError as exc:
        problems = [
            {
                "rule": "load-error",
                "severity": "error",
                "file": line.split(":")[0],
                "step": None,
                "message": line,
            }
            for line in str(exc).splitlines()
        ]
        if as_json:
            print_json(problems)
        else:
            for p in problems:
                err_console.print(f"error: {p['message']}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    findings = [f for cadence in catalog.cadences.values() for f in check_cadence(cadence)]
    for cadence in catalog.cadences.values():
        for step in cadence.steps:
            for name in step.templates:
                if name in catalog.blocked:
                    findings.append(
                        CadenceFinding(
                            "template-fails-lint",
                            "error",
                            cadence.source,
                            step.number,
                            f"{name} cannot be sent: {catalog.blocked[name]}",
                        )
                    )
    if as_json:
        print_json([f.__dict__ for f in findings])
    else:
        for f in findings:
            where = f"{f.file}" + (f" step {f.step}" if f.step else "")
            err_console.print(f"{f.severity}: {where}: {f.message}", markup=False, highlight=False)
        err_console.print(f"{len(catalog.cadences)} cadences checked")
    if any(f.severity == "error" for f in findings):
        raise typer.Exit(1)


@templates_app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Template name, e.g. ceo/intro.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every version of a template, with the touches it produced and their reply rate."""
    from cadence.cli.context import app_context
    from cadence.reports.template_history import template_history
    from cadence.store.database import transaction

    with app_context() as ctx, transaction(ctx.engine) as session:
        current = ctx.catalog.templates.get(name)
        rows = template_history(session, name, current=current.version if current else None)
    if not rows:
        err_console.print(f"no recorded versions of {name!r}; run `cadence init` after adding it")
        raise typer.Exit(1)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"History of {name}")
    for column in ("version", "first seen (UTC)", "current", "touches", "replies", "reply rate"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["version"],
            r["first_seen_at"][:16],
            "yes" if r["current"] else "",
            str(r["touches"]),
            str(r["replies"]),
            f"{r['reply_rate']:.1%}",
        )
    out_console.print(table)
