"""The flat context a template sees for one prospect.

Empty values are left out on purpose: with strict undefined variables a template must give a
fallback (``{{ first_name | default("there") }}``) instead of sending "Hi ,".
"""

from typing import Any

from cadence.authoring.catalog import Catalog
from cadence.authoring.config_files import Sender
from cadence.store.rows import ProspectView


def template_context(
    prospect: ProspectView,
    catalog: Catalog,
    sender: Sender,
    *,
    unsubscribe_url: str,
    cadence: str,
    step: int,
) -> dict[str, Any]:
    company = catalog.team.company
    context: dict[str, Any] = {
        "email": prospect.email,
        "stage": prospect.stage,
        "unsubscribe_url": unsubscribe_url,
        "cadence": cadence,
        "step": step,
        "custom": {k: v for k, v in prospect.custom.items() if v},
        "sender": {
            "name": sender.full_name,
            "first_name": sender.first_name,
            "email": str(sender.email),
            "title": sender.title,
            "phone": sender.phone,
            "company": company.name,
            "postal_address": company.postal_address,
        },
    }
    for name in ("first_name", "last_name", "company", "title"):
        value = getattr(prospect, name).strip()
        if value:
            context[name] = value
    full = " ".join(p for p in (prospect.first_name.strip(), prospect.last_name.strip()) if p)
    if full:
        context["full_name"] = full
    persona = catalog.persona_context(prospect.persona)
    if persona.persona is not None:
        context["persona"] = persona.persona
    context["value_propositions"] = persona.value_propositions
    if persona.value_propositions:
        context["value_proposition"] = persona.value_propositions[0]
    return context
