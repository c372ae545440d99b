"""A touch whose render goes over budget fails alone: the rest of its batch is delivered."""

import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from cadence.core.clock import SimulatedClock
from cadence.runtime.context import AppContext
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.prospect_import import import_prospects
from cadence.store.database import transaction
from cadence.store.models import Prospect, Touch
from tests.integration.conftest import REPO, START
from workers.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration

#: Three loops sized by the prospect's own data: one step for most, a billion for one.
LOOPS = (
    "{% for i in range(custom.n | default(1) | int) %}"
    "{% for j in range(custom.n | default(1) | int) %}"
    "{% for k in range(custom.n | default(1) | int) %}{% endfor %}{% endfor %}{% endfor %}"
)


def test_one_over_budget_touch_fails_and_its_batch_is_delivered(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    config, templates = tmp_path / "config", tmp_path / "templates"
    shutil.copytree(REPO / "config", config)
    shutil.copytree(REPO / "templates", templates)
    intro = templates / "ceo" / "intro.j2"
    intro.write_text(intro.read_text(encoding="utf-8") + LOOPS + "\n", encoding="utf-8")
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, config_dir=config, templates_dir=templates)
    assert "ceo/intro" not in ctx.catalog.blocked  # fine for the lint's sample prospects
    rows = ["email,first_name,company,persona,timezone,country,n"] + [
        f"p{i}@co{i}.example,P{i},Co {i},ceo,Europe/Berlin,DE,{10000 if i == 3 else 1}"
        for i in range(8)
    ]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_prospects(ctx, tmp_path / "p.csv", owner=None, actor="t")
    enroll_prospects(
        ctx, [f"p{i}@co{i}.example" for i in range(8)], "seven-touch", owner=None, actor="t"
    )
    started = time.monotonic()
    with EmbeddedEngine(ctx, worker_threads=1) as engine:
        engine.simulate(clock, START + timedelta(days=1))
    assert time.monotonic() - started < 60
    with transaction(ctx.engine) as session:
        firsts = {
            email: touch
            for touch, email in session.exec(
                select(Touch, Prospect.email)
                .join(Prospect, Prospect.id == Touch.prospect_id)  # type: ignore[arg-type]
                .where(Touch.step == 1)
            )
        }
    hostile = firsts.pop("p3@co3.example")
    assert hostile.status == "failed"
    assert "over the render budget" in (hostile.reason or "")
    assert {t.status for t in firsts.values()} == {"sent"}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 7
