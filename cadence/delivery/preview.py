"""``cadence templates preview``: the message exactly as delivery would build it."""

from datetime import datetime
from email.message import EmailMessage

from sqlmodel import select

from cadence.authoring.catalog import load_catalog
from cadence.authoring.render_context import template_context
from cadence.authoring.template_lint import sample_context
from cadence.core.errors import NotFoundError
from cadence.delivery.compose import OutgoingEmail, compose, new_message_id
from cadence.runtime.settings import Settings, render_limits
from cadence.store.database import create_db_engine, transaction
from cadence.store.models import Prospect


def preview_message(
    settings: Settings, name: str, *, email: str | None, persona: str | None, now: datetime
) -> EmailMessage:
    """The email delivery would send, dated ``now``, for a stored prospect or a persona's
    sample."""
    catalog = load_catalog(
        settings.config_dir, settings.templates_dir, render_limits=render_limits(settings)
    )
    template = catalog.templates.get(name)
    if template is None:
        raise NotFoundError(
            f"no template named {name!r}; known: {', '.join(sorted(catalog.templates))}"
        )
    base = settings.public_url.rstrip("/")
    if email is not None:
        engine = create_db_engine(settings.database_url)
        try:
            with transaction(engine) as session:
                prospect = session.exec(
                    select(Prospect).where(Prospect.email == email.strip().lower())
                ).first()
        finally:
            engine.dispose()
        if prospect is None:
            raise NotFoundError(f"no prospect with email {email!r}")
        sender = catalog.team.sender(prospect.owner)
        unsubscribe = f"{base}/unsubscribe/{prospect.unsubscribe_token}"
        context = template_context(
            prospect, catalog, sender, unsubscribe_url=unsubscribe, cadence="preview", step=1
        )
        to_name = " ".join(p for p in (prospect.first_name, prospect.last_name) if p)
        to_email = prospect.email
    else:
        assert persona is not None
        if persona not in catalog.personas:
            raise NotFoundError(
                f"no persona {persona!r}; known: {', '.join(sorted(catalog.personas))}"
            )
        sender = catalog.team.sender(None)
        own = catalog.value_propositions_for(persona)
        context = sample_context(
            catalog.team, sender, catalog.personas[persona], own, complete=True
        )
        unsubscribe = context["unsubscribe_url"]
        to_name, to_email = "Sam Rivera", context["email"]
    rendered = catalog.renderer.render(name, context)
    domain = catalog.team.company.domain
    return compose(
        OutgoingEmail(
            touch_id=0,
            message_id=new_message_id(0, domain),
            sender_name=sender.full_name,
            sender_email=str(sender.email),
            recipient_name=to_name,
            recipient_email=to_email,
            subject=rendered.subject or "Re: (the earlier email's subject)",
            body=rendered.body,
            date=now,
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto=f"mailto:unsubscribe@{domain}?subject=unsubscribe",
        )
    )
