"""The demo's sample prospects: a seeded CSV over 13 time zones, imported and spread over the team.

The CSV goes through the same import as ``cadence prospects import``, so the demo shows the
path a user's own file takes.
"""

import random
from pathlib import Path

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select

from cadence.runtime.context import AppContext
from cadence.sequences.prospect_import import import_prospects
from cadence.store.database import transaction
from cadence.store.models import PROSPECTS

#: An empty first name on purpose: templates must fall back ("Hi there"), never "Hi ,".
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloé",
    "Dev",
    "Elif",
    "Femi",
    "Greta",
    "Hiro",
    "Ines",
    "Jon",
    "Kai",
    "Lena",
    "Mateo",
    "Noor",
    "Olu",
    "Pia",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "",
]
LAST_NAMES = [
    "Silva",
    "Okafor",
    "Müller",
    "Tanaka",
    "Dubois",
    "Rossi",
    "Kowalski",
    "Jensen",
    "Patel",
    "García",
    "Nguyen",
    "Smith",
    "de Vries",
    "Ahmed",
]
_COMPANIES = [
    "Acme Robotics",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foods",
    "Hooli",
    "Vandelay Imports",
    "Soylent",
    "Tyrell Systems",
    "Cyberdyne",
    "Wonka Labs",
    "Pied Piper",
    "Monarch Solar",
    "Duff Brands",
]
#: The shipped personas, each with the title a prospect of it holds.
_TITLES = {"ceo": "CEO", "vp_sales": "VP Sales", "revops": "Head of Revenue Operations"}
#: Thirteen zones from São Paulo to Sydney, each with its country for the holiday calendar.
_ZONES = [
    ("America/New_York", "US"),
    ("America/Chicago", "US"),
    ("America/Los_Angeles", "US"),
    ("Europe/London", "GB"),
    ("Europe/Berlin", "DE"),
    ("Europe/Paris", "FR"),
    ("Europe/Madrid", "ES"),
    ("Europe/Amsterdam", "NL"),
    ("America/Sao_Paulo", "BR"),
    ("Asia/Tokyo", "JP"),
    ("Asia/Singapore", "SG"),
    ("Australia/Sydney", "AU"),
    ("Asia/Kolkata", "IN"),
]


def import_sample_prospects(
    ctx: AppContext, path: Path, count: int, rng: random.Random
) -> list[str]:
    """Write ``count`` seeded prospects to ``path``, import them and give each an owner;
    their emails, in the file's order."""
    emails = write_sample_csv(path, count, rng)
    import_prospects(ctx, path, owner=None, actor="demo")
    assign_owners(ctx)
    return emails


def write_sample_csv(path: Path, count: int, rng: random.Random) -> list[str]:
    """The CSV a user would import; the same ``rng`` state gives the same file."""
    lines = ["email,first_name,last_name,company,title,persona,timezone,country,stage,industry"]
    emails = []
    personas = list(_TITLES)
    for i in range(count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        company = rng.choice(_COMPANIES)
        persona = personas[i % len(personas)]
        zone, country = _ZONES[i % len(_ZONES)]
        local = (first or "contact").lower().replace("é", "e")
        domain = company.lower().replace(" ", "") + ".example"
        email = f"{local}.{i}@{domain}"
        emails.append(email)
        lines.append(
            f'{email},{first},{last},"{company}",{_TITLES[persona]},{persona},{zone},{country},'
            f"in_profile,{rng.choice(['saas', 'logistics', 'health', 'retail'])}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return emails


def assign_owners(ctx: AppContext) -> None:
    """Spread the sample prospects over the team so reports by owner mean something."""
    owners = [s.name for s in ctx.catalog.team.sdr]
    with transaction(ctx.engine) as session:
        connection = session.connection()
        ids = connection.execute(sa_select(PROSPECTS.c.id).order_by(PROSPECTS.c.id)).scalars()
        connection.execute(
            _SET_OWNER,
            [{"prospect": pid, "sdr": owners[i % len(owners)]} for i, pid in enumerate(ids)],
        )


_SET_OWNER = (
    update(PROSPECTS).where(PROSPECTS.c.id == bindparam("prospect")).values(owner=bindparam("sdr"))
)
