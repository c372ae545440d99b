"""Read marketing's template files: YAML front matter, then a Jinja body (README, "What
marketing writes")."""

import hashlib
from pathlib import Path
from typing import Any

import yaml

from cadence.core.domain import TemplateDefinition, TemplateKind
from cadence.core.errors import DefinitionError

TEMPLATE_SUFFIX = ".j2"
#: Large enough for any real email or task script; larger files are a mistake or an attack.
MAX_TEMPLATE_BYTES = 64 * 1024
_FRONT_KEYS = {"kind", "subject", "description", "variants", "persona_required"}


def template_name(path: Path, root: Path) -> str:
    """``templates/ceo/intro.j2`` is named ``ceo/intro``."""
    return path.relative_to(root).as_posix().removesuffix(TEMPLATE_SUFFIX)


def parse_template(text: str, *, name: str, path: str) -> TemplateDefinition:
    """Split front matter from body and validate the front matter's fields."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise DefinitionError(f"{path}:1: a template starts with a '---' front-matter block")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise DefinitionError(f"{path}:1: front matter is not closed with '---'") from None
    try:
        front: Any = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(front, dict):
        raise DefinitionError(f"{path}:2: front matter must be a mapping of fields")
    unknown = set(front) - _FRONT_KEYS
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise DefinitionError(f"{path}: front matter: unknown fields {names}")
    try:
        kind = TemplateKind(str(front.get("kind")))
    except ValueError:
        kinds = ", ".join(k.value for k in TemplateKind)
        raise DefinitionError(f"{path}: front matter: kind must be one of {kinds}") from None
    subject = front.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise DefinitionError(f"{path}: front matter: subject must be text")
    if subject is None and kind.channel.value == "email" and kind is not TemplateKind.BUMP:
        raise DefinitionError(f"{path}: front matter: subject is required for a {kind} email")
    body = "".join(lines[end + 1 :])
    if not body.strip():
        raise DefinitionError(f"{path}:{end + 2}: the template body is empty")
    description = front.get("description", "")
    return TemplateDefinition(
        name=name,
        kind=kind,
        subject=subject,
        body=body,
        description=str(description or ""),
        version=hashlib.sha256(text.encode("utf-8")).hexdigest()[:12],
        path=path,
        body_start_line=end + 2,
        source=text,
    )


def read_template(path: Path, root: Path) -> TemplateDefinition:
    try:
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise DefinitionError(f"{path}: larger than {MAX_TEMPLATE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"{path}: not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read: {exc}") from exc
    return parse_template(text, name=template_name(path, root), path=str(path))
