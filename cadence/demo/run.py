"""``cadence demo``: a new user watches a seven-touch cadence run over simulated weeks.

Everything goes through the real paths: the CSV import, enrollment, the scheduler tick, the
dramatiq Worker on the in-process broker, the file outbox, and replies recorded through the
same service as ``cadence event reply``. The summary is read back from the store.
"""

import heapq
import random
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import select

from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind, TaskOutcome, TouchStatus
from cadence.demo.report import print_summary, summarize
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.defaults import shipped_root
from cadence.runtime.settings import load_settings
from cadence.runtime.store_setup import init_store
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record as record_by_hand
from cadence.sequences.prospect_import import import_prospects
from cadence.sequences.tasks import complete_tasks
from cadence.store.database import reading, transaction
from cadence.store.models import PROSPECTS, TASKS, TOUCHES, Prospect
from cadence.store.sql_lists import in_list

#: A Monday before both the US (8 March) and EU (29 March) clock changes, so the demo crosses them.
DEMO_START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
DEMO_WEEKS = 12
_FIRST = [
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
_LAST = [
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
_TITLES = {"ceo": "CEO", "vp_sales": "VP Sales", "revops": "Head of Revenue Operations"}
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
#: How long after a task falls due the demo's SDRs get to it, and how many they leave.
TASK_LAG = timedelta(hours=3)
TASKS_LEFT_UNDONE = 0.15
_OUTCOMES = [
    TaskOutcome.CONNECTED,
    TaskOutcome.VOICEMAIL,
    TaskOutcome.VOICEMAIL,
    TaskOutcome.NO_ANSWER,
    TaskOutcome.NO_ANSWER,
    TaskOutcome.SKIPPED,
]


#: After which touch a replier replies: most replies come mid-cadence, not at touch 1.
_REPLY_AFTER = [1, 2, 2, 3, 4, 4, 5, 6, 6, 7]


@dataclass
class PlannedEvent:
    email: str
    kind: EventKind
    after_step: int
    delay: timedelta
    at: datetime | None = None


def make_workspace(workspace: Path | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix="cadence-demo-")) if workspace is None else workspace
    if workspace is not None:
        if workspace.exists() and any(workspace.iterdir()):
            from cadence.core.errors import InputError

            raise InputError(f"{workspace} is not empty; the demo needs a fresh folder")
        workspace.mkdir(parents=True, exist_ok=True)
    source = shipped_root()
    shutil.copytree(source / "config", root / "config")
    shutil.copytree(source / "templates", root / "templates")
    return root


#: Prospects one demo SDR works at a time: enrolled together, their first emails fit one
#: mailbox's daily cap (200 in the shipped team), as a real team would plan it.
PROSPECTS_PER_SDR = 150
_SDR_NAMES = [f"{first} {last}" for last in _LAST for first in _FIRST if first]


def staff_team(team_file: Path, prospects: int) -> int:
    """Add SDRs to the workspace's team until each owns at most :data:`PROSPECTS_PER_SDR`;
    the number of SDRs. Without it a large demo is a backlog behind three mailboxes' caps,
    re-planned daily, and shows nothing of a cadence."""
    text = team_file.read_text(encoding="utf-8")
    team = tomllib.loads(text)
    shipped, domain = len(team["sdr"]), team["company"]["domain"]
    needed = -(-prospects // PROSPECTS_PER_SDR)
    added = []
    for n in range(shipped + 1, needed + 1):
        added.append(
            f'\n[[sdr]]\nname = "sdr{n:03d}"\n'
            f'full_name = "{_SDR_NAMES[n % len(_SDR_NAMES)]}"\n'
            f'email = "sdr{n:03d}@{domain}"\n'
            'title = "Sales Development Representative"\n'
        )
    if added:
        team_file.write_text(text + "".join(added), encoding="utf-8")
    return max(shipped, needed)


def write_sample_csv(path: Path, count: int, rng: random.Random) -> list[str]:
    lines = ["email,first_name,last_name,company,title,persona,timezone,country,stage,industry"]
    emails = []
    personas = list(_TITLES)
    for i in range(count):
        first = rng.choice(_FIRST)
        last = rng.choice(_LAST)
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


def plan_events(emails: list[str], rng: random.Random) -> dict[str, PlannedEvent]:
    """Seeded outcomes: about a quarter reply, a few unsubscribe, a few bounce."""
    planned = {}
    for email in emails:
        roll = rng.random()
        if roll < 0.25:
            kind, step = EventKind.REPLY, rng.choice(_REPLY_AFTER)
        elif roll < 0.28:
            kind, step = EventKind.UNSUBSCRIBE, rng.choice([1, 2, 4, 6])
        elif roll < 0.30:
            kind, step = EventKind.BOUNCE, 1
        else:
            continue
        delay = (
            timedelta(minutes=3)
            if kind is EventKind.BOUNCE
            else timedelta(minutes=rng.randint(30, 48 * 60))
        )
        planned[email] = PlannedEvent(email, kind, step, delay)
    return planned


#: Touches per worker message in the demo (production's default is 20).
DEMO_BATCH_SIZE = 100


def run_demo(*, prospects: int, seed: int, workspace: Path | None, quiet: bool) -> dict[str, Any]:
    console = Console(stderr=True, quiet=quiet)
    started = time.perf_counter()
    root = make_workspace(workspace)
    rng = random.Random(seed)
    sdrs = staff_team(root / "config" / "team.toml", prospects)
    settings = load_settings(
        database_url=f"sqlite:///{root / 'cadence.db'}",
        redis_url=None,
        smtp_url=None,
        outbox_dir=root / "outbox",
        config_dir=root / "config",
        templates_dir=root / "templates",
        # One worker thread, and the demo's replies land between stops, never mid-batch:
        # the reply-to-halt latency that keeps production batches at 20 does not arise, and
        # a stop's touches go in one or two messages (10,000 prospects: 42-43 s against
        # 46-48 s at 20, alternating runs).
        delivery_batch_size=DEMO_BATCH_SIZE,
    )
    clock = SimulatedClock(DEMO_START)
    ctx = build_context(settings, clock=clock)
    try:
        init_store(ctx)
        csv_path = root / "prospects.csv"
        emails = write_sample_csv(csv_path, prospects, rng)
        import_prospects(ctx, csv_path, owner=None, actor="demo")
        _assign_owners(ctx)
        enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="demo")
        planned = plan_events(emails, rng)
        until = DEMO_START + timedelta(weeks=DEMO_WEEKS)
        console.print(
            f"[bold]Cadence demo[/]: {prospects} prospects in [cyan]seven-touch[/], "
            f"simulating {DEMO_START:%a %d %b %Y} → {until:%a %d %b %Y} in {root}"
        )
        _simulate(ctx, clock, until, planned, console, seed)
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


def _assign_owners(ctx: AppContext) -> None:
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


#: The prospect, step and status of a stop's touches (built once: a demo makes thousands of
#: stops). By id only: with the status in the query SQLite read every sent touch.
_STOP_TOUCHES = sa_select(TOUCHES.c.prospect_id, TOUCHES.c.step, TOUCHES.c.status).where(
    in_list(TOUCHES.c.id, "ids")
)


#: Open tasks that fell due in a window, for the demo's SDRs to work (built once).
_TASKS_TO_WORK = (
    sa_select(TASKS.c.id, TASKS.c.owner)
    .where(
        TASKS.c.status == "open",
        TASKS.c.due_at > bindparam("since"),
        TASKS.c.due_at <= bindparam("until"),
    )
    .order_by(TASKS.c.id)
)


def _simulate(
    ctx: AppContext,
    clock: SimulatedClock,
    until: datetime,
    planned: dict[str, PlannedEvent],
    console: Console,
    seed: int,
) -> None:
    from workers.embedded import EmbeddedEngine, SimulationStop

    task_rng = random.Random(seed + 1)
    by_id: dict[int, PlannedEvent] = {}
    with transaction(ctx.engine) as session:
        for prospect in session.exec(select(Prospect)):
            if prospect.email in planned and prospect.id is not None:
                by_id[prospect.id] = planned[prospect.email]

    # Reactions waiting for their time, earliest first: each stop looks only at the head.
    timed: list[tuple[datetime, str]] = []
    tasks_seen_until = [clock.now() - TASK_LAG]

    def due_events() -> datetime | None:
        return timed[0][0] if timed else None

    def apply_events(now: datetime) -> None:
        while timed and timed[0][0] <= now:
            _, email = heapq.heappop(timed)
            p = planned[email]
            record_by_hand(ctx, p.kind, p.email, actor="demo:prospect", source="demo")
        work_tasks(now)

    def work_tasks(now: datetime) -> None:
        """The SDRs work most of their call and LinkedIn tasks within a few hours; each task
        is looked at once, when it is TASK_LAG old."""
        since, until = tasks_seen_until[0], now - TASK_LAG
        if until <= since:
            return
        tasks_seen_until[0] = until
        # Read first, and take the store's write lock only when there is work (most stops
        # have none); nothing else writes between the demo's stops.
        with reading(ctx.engine) as connection:
            due = connection.execute(_TASKS_TO_WORK, {"since": since, "until": until}).all()
        by_owner: dict[str, dict[int, TaskOutcome]] = {}
        for task_id, owner in due:
            if task_rng.random() < TASKS_LEFT_UNDONE:
                continue  # this one stays overdue
            by_owner.setdefault(owner, {})[task_id] = task_rng.choice(_OUTCOMES)
        if not by_owner:
            return
        with transaction(ctx.engine) as session:
            for owner, outcomes in by_owner.items():
                complete_tasks(session, outcomes, now=now, actor=f"demo:{owner}")

    def schedule_reactions(stop: SimulationStop) -> None:
        """Start the reactions planned after a step sent at this stop; read by the claimed
        ids, so each stop costs what it sent, not the whole touch history."""
        sent: list[tuple[int, int]] = []
        with reading(ctx.engine) as connection:
            for start in range(0, len(stop.touch_ids), 500):
                chunk = stop.touch_ids[start : start + 500]
                rows = connection.execute(_STOP_TOUCHES, {"ids": chunk})
                sent += [(p, step) for p, step, status in rows if status == TouchStatus.SENT]
        now = stop.at
        for prospect_id, step in sent:
            reaction = by_id.get(prospect_id)
            if reaction is not None and reaction.at is None and step == reaction.after_step:
                reaction.at = now + reaction.delay
                heapq.heappush(timed, (reaction.at, reaction.email))

    total_seconds = (until - clock.now()).total_seconds()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[when]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress, EmbeddedEngine(ctx, worker_threads=1) as engine:
        task = progress.add_task("simulating", total=total_seconds, when="")
        start = clock.now()

        def on_progress(stop: SimulationStop) -> None:
            schedule_reactions(stop)
            progress.update(
                task,
                completed=(stop.at - start).total_seconds(),
                when=f"{stop.at:%a %d %b %H:%M} UTC",
            )

        engine.simulate(
            clock,
            until,
            extra_stops=due_events,
            at_stop=apply_events,
            on_progress=on_progress,
            resolution=timedelta(minutes=5),
        )
