"""Setting up a batch of queued touches for the delivery tests: a config with extra
cadences, Berlin prospects named after their address, their touches made due and claimed."""

import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from cadence.core.clock import SimulatedClock
from cadence.delivery import claim as touch_claim
from cadence.runtime.context import AppContext
from cadence.scheduler.tick import scheduler_tick
from cadence.sequences.prospect_import import import_prospects
from cadence.store.database import transaction
from cadence.store.models import Prospect, Touch

from .conftest import REPO, START

#: Monday 08:00 in Berlin (inside the seven-touch window), 16:00 in Tokyo (outside it).
AT = START + timedelta(hours=2)
HEADER = "email,first_name,last_name,company,title,persona,timezone,country"
RETIRED = """name = "retired"
description = "A cadence marketing deleted while its enrollments were still running"
send_window = { start = "07:30", end = "09:30" }

[[steps]]
template = "ceo/intro"
delay = "0d"
"""
CALL_THEN_EMAIL = """name = "call-then-email"
description = "A call task, then an email two days later"
send_window = { start = "07:30", end = "09:30" }

[[steps]]
template = "tasks/call"
delay = "0d"
send_window = { start = "07:30", end = "17:00" }

[[steps]]
template = "ceo/intro"
delay = "2d"
"""


def config_with(
    tmp_path: Path, name: str = "config", *, cadences: dict[str, str] | None = None
) -> Path:
    config = tmp_path / name
    shutil.copytree(REPO / "config", config)
    for file_name, text in (cadences or {}).items():
        (config / "cadences" / f"{file_name}.toml").write_text(text, encoding="utf-8")
    return config


def import_rows(ctx: AppContext, tmp_path: Path, rows: list[str], *, owner: str = "alex") -> None:
    path = tmp_path / f"prospects-{owner}-{len(rows)}-{rows[0].split(',')[0]}.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    report = import_prospects(ctx, path, owner=owner, actor="test")
    assert (len(report.imported), report.rejected) == (len(rows), [])


def berlin(email: str, first_name: str, company: str) -> str:
    return f"{email},{first_name},Test,{company},CEO,ceo,Europe/Berlin,DE"


def berlins(*emails: str) -> list[str]:
    """CSV rows for Berlin prospects named after their address: ann@acme.example is Ann of
    Acme."""
    rows = []
    for email in emails:
        local, _, domain = email.partition("@")
        rows.append(berlin(email, local.capitalize(), domain.split(".")[0].capitalize()))
    return rows


def queue_due(
    ctx: AppContext, clock: SimulatedClock, at: datetime = AT, *, step: int | None = None
) -> dict[str, int]:
    """Make every scheduled touch (of ``step``, if given) due just before ``at`` and let the
    scheduler queue them; the queued touch of each prospect, by email."""
    scheduled = select(Touch).where(Touch.status == "scheduled")
    if step is not None:
        scheduled = scheduled.where(Touch.step == step)
    with transaction(ctx.engine) as session:
        for touch in session.exec(scheduled):
            touch.due_at = at - timedelta(minutes=1)
            session.add(touch)
    clock.advance_to(at)
    claimed: list[int] = []
    scheduler_tick(ctx, claimed.extend)
    with transaction(ctx.engine) as session:
        rows = session.exec(
            select(Prospect.email, Touch.id)
            .join(Touch, col(Touch.prospect_id) == col(Prospect.id))
            .where(col(Touch.id).in_(claimed))
        ).all()
    queued = {email: touch_id for email, touch_id in rows if touch_id is not None}
    assert sorted(queued.values()) == sorted(claimed)
    return queued


def between_preparation_and_claim(monkeypatch: Any, change: Callable[[], object]) -> None:
    """``change`` runs once, after a batch is prepared and before its claim locks (PostgreSQL
    prepares a batch without locks; see :mod:`cadence.delivery.claim`)."""
    lock = touch_claim.locked_touch_views

    def changed_first(session: Any, touch_ids: Any) -> Any:
        change()
        monkeypatch.setattr(touch_claim, "locked_touch_views", lock)
        return lock(session, touch_ids)

    monkeypatch.setattr(touch_claim, "locked_touch_views", changed_first)
