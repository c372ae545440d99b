"""``cadence init`` and every rendering process's start: the schema migrated and every
template version a process may render kept, so history never loses a version."""

from sqlmodel import select

from cadence.runtime.context import AppContext
from cadence.store.audit_log import record_audit
from cadence.store.database import migrate, transaction
from cadence.store.models import TemplateVersion


def init_store(ctx: AppContext) -> int:
    """Migrate the schema and record the current template versions; returns new versions."""
    migrate(ctx.engine)
    return record_template_versions(ctx)


def record_template_versions(ctx: AppContext) -> int:
    """Keep every template text a process may render, so history never loses a version.

    Called by ``init`` and whenever a process that renders starts."""
    added = 0
    with transaction(ctx.engine) as session:
        known = {(v.name, v.version) for v in session.exec(select(TemplateVersion))}
        for template in ctx.catalog.templates.values():
            if (template.name, template.version) in known:
                continue
            record_audit(
                session,
                at=ctx.clock.now(),
                action="template:version",
                after=f"{template.name}@{template.version}",
                reason="new" if not any(n == template.name for n, _ in known) else "changed",
            )
            session.add(
                TemplateVersion(
                    name=template.name,
                    version=template.version,
                    kind=template.kind,
                    source=template.source,
                    first_seen_at=ctx.clock.now(),
                )
            )
            added += 1
    return added
