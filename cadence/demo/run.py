"""``cadence demo``: a new user watches a seven-touch cadence run over simulated weeks.

Everything goes through the real paths: the CSV import, enrollment, the scheduler tick, the
dramatiq Worker on the in-process broker, the file outbox, and replies recorded through the
same service as ``cadence event reply``. The summary is read back from the store.
"""

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.demo.reactions import ProspectReactions, plan_events
from cadence.demo.report import print_summary, summarize
from cadence.demo.sample_prospects import import_sample_prospects
from cadence.demo.sdr_work import SdrTaskWork
from cadence.demo.simulation import simulate
from cadence.demo.workspace import make_workspace, staff_team, workspace_settings
from cadence.runtime.context import build_context
from cadence.runtime.store_setup import init_store
from cadence.sequences.enrollment import enroll_prospects

#: A Monday before both the US (8 March) and EU (29 March) clock changes, so the demo crosses them.
DEMO_START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
DEMO_WEEKS = 12


def run_demo(*, prospects: int, seed: int, workspace: Path | None, quiet: bool) -> dict[str, Any]:
    """Run the demo in ``workspace`` (a new temporary folder when None) and return its summary;
    the same ``seed`` gives the same summary but for the workspace and the wall time. ``quiet``
    prints nothing (``--json``); otherwise progress and tables go to stderr."""
    console = Console(stderr=True, quiet=quiet)
    started = time.perf_counter()
    root = make_workspace(workspace)
    rng = random.Random(seed)
    sdrs = staff_team(root / "config" / "team.toml", prospects)
    clock = SimulatedClock(DEMO_START)
    ctx = build_context(workspace_settings(root), clock=clock)
    try:
        init_store(ctx)
        emails = import_sample_prospects(ctx, root / "prospects.csv", prospects, rng)
        enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="demo")
        planned = plan_events(emails, rng)
        until = DEMO_START + timedelta(weeks=DEMO_WEEKS)
        console.print(
            f"[bold]Cadence demo[/]: {prospects} prospects in [cyan]seven-touch[/], "
            f"simulating {DEMO_START:%a %d %b %Y} → {until:%a %d %b %Y} in {root}"
        )
        simulate(
            ctx,
            clock,
            until,
            reactions=ProspectReactions(ctx, planned),
            sdrs=SdrTaskWork(ctx, start=clock.now(), rng=random.Random(seed + 1)),
            console=console,
        )
        summary = summarize(
            ctx, planned_replies=sum(1 for p in planned.values() if p.kind is EventKind.REPLY)
        )
        summary.update(
            workspace=str(root),
            seed=seed,
            prospects=prospects,
            sdrs=sdrs,
            simulated={"from": DEMO_START.isoformat(), "until": until.isoformat()},
            elapsed_seconds=round(time.perf_counter() - started, 2),
        )
    finally:
        ctx.close()
    if not quiet:
        print_summary(console, summary)
    return summary
