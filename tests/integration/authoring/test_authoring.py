"""A/B variants split per enrollment; template versions never rewrite history."""

import shutil
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from cadence.core.clock import SimulatedClock
from cadence.core.errors import ConflictError
from cadence.reports.template_history import template_history
from cadence.runtime.context import AppContext
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.prospect_import import import_prospects
from cadence.store.database import transaction
from cadence.store.models import Touch
from tests.integration.conftest import REPO, START
from workers.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration


def _workspace(tmp_path: Path) -> tuple[Path, Path]:
    config, templates = tmp_path / "config", tmp_path / "templates"
    shutil.copytree(REPO / "config", config)
    shutil.copytree(REPO / "templates", templates)
    (templates / "ceo" / "intro-b.j2").write_text(
        "---\nkind: ceo_email\nsubject: \"Quick idea for {{ company | default('you') }}\"\n---\n"
        'Hi {{ first_name | default("there") }},\n\nVariant B: {{ value_proposition.claim }}.\n\n'
        "Open to a short call?\n\n{{ sender.first_name }}\n",
        encoding="utf-8",
    )
    cadence_file = config / "cadences" / "seven-touch.toml"
    cadence_file.write_text(
        cadence_file.read_text().replace(
            'template = "ceo/intro"', 'template = ["ceo/intro", "ceo/intro-b"]'
        )
    )
    return config, templates


def _import_and_enroll(ctx: AppContext, tmp_path: Path, *, imported: int, enrolled: int) -> None:
    """Prospects p0@co0.example … imported, the first ``enrolled`` of them in seven-touch."""
    rows = ["email,first_name,company,persona,timezone,country"] + [
        f"p{i}@co{i}.example,P{i},Co {i},ceo,Europe/Berlin,DE" for i in range(imported)
    ]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_prospects(ctx, tmp_path / "p.csv", owner=None, actor="t")
    emails = [f"p{i}@co{i}.example" for i in range(enrolled)]
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="t")


def test_ab_variants_split_deterministically_and_history_keeps_versions(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    config, templates = _workspace(tmp_path)
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, config_dir=config, templates_dir=templates)
    _import_and_enroll(ctx, tmp_path, imported=60, enrolled=60)
    with transaction(ctx.engine) as session:
        planned = {t.enrollment_id: t.template for t in session.exec(select(Touch))}
    split = Counter(planned.values())
    assert set(split) == {"ceo/intro", "ceo/intro-b"}
    assert min(split.values()) >= 15  # an even split, not all-or-nothing
    with EmbeddedEngine(ctx, worker_threads=2) as engine:
        engine.simulate(clock, START + timedelta(days=2))
    with transaction(ctx.engine) as session:
        sent = session.exec(select(Touch).where(Touch.step == 1)).all()
    assert {t.enrollment_id: t.template for t in sent} == planned
    b_bodies = [t.body for t in sent if t.template == "ceo/intro-b"]
    assert b_bodies and all("Variant B:" in (b or "") for b in b_bodies)

    old_version = ctx.catalog.templates["ceo/intro"].version
    intro = templates / "ceo" / "intro.j2"
    intro.write_text(intro.read_text().replace("Worth 15 minutes", "Worth 20 minutes"))
    ctx2 = make_context(clock=clock, config_dir=config, templates_dir=templates)
    new_version = ctx2.catalog.templates["ceo/intro"].version
    assert new_version != old_version
    with transaction(ctx2.engine) as session:
        history = template_history(session, "ceo/intro", current=new_version)
        versions_sent = {
            t.template_version
            for t in session.exec(select(Touch).where(col(Touch.template) == "ceo/intro"))
        }
    assert [h["version"] for h in history] == [old_version, new_version]
    assert [h["current"] for h in history] == [False, True]
    assert history[0]["touches"] == split["ceo/intro"]
    assert versions_sent == {old_version}  # history was not rewritten


def test_a_template_with_lint_errors_is_never_sent(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """Enrolled while the template was fine; it fails lint by the time its touches are due:
    those touches fail, the other variant's are sent, and nobody more can be enrolled."""
    config, templates = _workspace(tmp_path)
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, config_dir=config, templates_dir=templates)
    _import_and_enroll(ctx, tmp_path, imported=21, enrolled=20)
    long_pitch = " ".join(["We help teams like yours grow faster with less effort."] * 10)
    (templates / "ceo" / "intro-b.j2").write_text(
        "---\nkind: ceo_email\nsubject: Hello\n---\n"
        f"Hi {{{{ first_name | default('there') }}}},\n\n{long_pitch}\n\n"
        "Are you free Tuesday? Can we talk Wednesday?\n",
        encoding="utf-8",
    )
    ctx = make_context(clock=clock, config_dir=config, templates_dir=templates)
    assert "ceo/intro-b" in ctx.catalog.blocked
    assert "ceo/intro" not in ctx.catalog.blocked
    with pytest.raises(ConflictError, match=r"'seven-touch' fails validation.*ceo/intro-b"):
        enroll_prospects(ctx, ["p20@co20.example"], "seven-touch", owner=None, actor="t")
    with EmbeddedEngine(ctx, worker_threads=2) as engine:
        engine.simulate(clock, START + timedelta(days=2))
    with transaction(ctx.engine) as session:
        firsts = session.exec(select(Touch).where(Touch.step == 1)).all()
    assert len(firsts) == 20
    blocked = [t for t in firsts if t.template == "ceo/intro-b"]
    assert blocked and all(
        t.status == "failed" and "fails lint" in (t.reason or "") for t in blocked
    )
    assert all(t.status == "sent" for t in firsts if t.template == "ceo/intro")
    outbox = list((tmp_path / "outbox").glob("*.eml"))
    assert len(outbox) == len(firsts) - len(blocked)
