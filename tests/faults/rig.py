"""One test's world: its own PostgreSQL schema, its own ``redis-server``, an SMTP sink, a config
folder whose cadences are due at once at any hour, and the Procfile's processes on top.

The store is read with a separate engine (its own ``application_name``), so the test can cut
the connections of the processes under test without cutting its own.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from cadence.reports.status import broker_depth
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.settings import load_settings
from cadence.scheduler.due_touches import mark_unconfirmed
from cadence.store.database import transaction
from workers.broker import TOUCH_QUEUE

from .processes import BIN, REPO, Proc, run_cli, tail
from .redis_server import RedisServer
from .sink import FaultSink
from .tally import Tally, TouchRow, as_utc

POSTGRES_ADMIN_URL = os.environ.get(
    "CADENCE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: Where every touch of the fault tests may end; which of them a test accepts is its own call.
SETTLED = frozenset({"sent", "unconfirmed", "failed", "cancelled", "skipped"})
ALL_DAYS = '["mon", "tue", "wed", "thu", "fri", "sat", "sun"]'
#: One email, due at once, any hour of any day.
BLAST_CADENCE = "fault-blast"
#: Three emails in a row, each due as soon as the one before is sent.
THREE_STEP_CADENCE = "fault-three"


def _cadence(name: str, steps: Iterable[tuple[str, str]]) -> str:
    lines = [
        f'name = "{name}"',
        'description = "Due at once at any hour: for the fault tests"',
        f'send_window = {{ start = "00:00", end = "23:59", days = {ALL_DAYS} }}',
        "business_days = false",
        'on_reply = "halt"',
    ]
    for template, thread in steps:
        lines += ["", "[[steps]]", f'template = "{template}"', 'delay = "0d"']
        if thread:
            lines.append(f'thread = "{thread}"')
    return "\n".join(lines) + "\n"


def write_config(dest: Path) -> Path:
    """The shipped config, with send limits out of the way and the fault cadences added."""
    shutil.copytree(REPO / "config", dest)
    team = dest / "team.toml"
    team.write_text(
        re.sub(
            r"^daily_cap = \d+$",
            "daily_cap = 1000000\nper_minute = 1000000",
            team.read_text(encoding="utf-8"),
            flags=re.MULTILINE,
        ),
        encoding="utf-8",
    )
    cadences = dest / "cadences"
    (cadences / f"{BLAST_CADENCE}.toml").write_text(
        _cadence(BLAST_CADENCE, [("ceo/intro", "")]), encoding="utf-8"
    )
    (cadences / f"{THREE_STEP_CADENCE}.toml").write_text(
        _cadence(
            THREE_STEP_CADENCE,
            [("ceo/intro", ""), ("ceo/bump", "reply"), ("checkin/value", "")],
        ),
        encoding="utf-8",
    )
    return dest


def open_zone(now: datetime) -> str:
    """A time zone whose local hour keeps the 00:00-23:59 window (less its margins and the
    up to 45 minutes of jitter after midnight) open for the whole test."""
    return "UTC" if 2 <= now.astimezone(UTC).hour <= 21 else "Asia/Tokyo"


@dataclass
class Rig:
    tmp: Path
    schema: str
    redis: RedisServer
    sink: FaultSink
    config_dir: Path
    engine: Engine
    admin: Engine
    zone: str
    procs: list[Proc] = field(default_factory=list)
    prospects: int = 0

    # -- environment and processes -------------------------------------------------------

    def database_url(self, role: str) -> str:
        return (
            f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{self.schema}"
            f"&application_name={self.app_prefix}{role}"
        )

    @property
    def app_prefix(self) -> str:
        return f"fault_{self.schema}_"

    def env(self, role: str, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
        base.update(
            PYTHONUNBUFFERED="1",
            CADENCE_DATABASE_URL=self.database_url(role),
            CADENCE_REDIS_URL=self.redis.url,
            CADENCE_SMTP_URL=self.sink.url,
            CADENCE_CONFIG_DIR=str(self.config_dir),
            CADENCE_TEMPLATES_DIR=str(REPO / "templates"),
            CADENCE_OUTBOX_DIR=str(self.tmp / "outbox"),
            CADENCE_PUBLIC_URL="https://cadence.test/",
            CADENCE_SCHEDULER_INTERVAL_SECONDS="0.5",
        )
        base.update(extra)
        return base

    def context(self, role: str) -> AppContext:
        """An in-process context on the same store and Redis (the caller closes it); its
        transport is the file outbox, so nothing it might send reaches the sink."""
        settings = load_settings(
            database_url=self.database_url(role),
            redis_url=self.redis.url,
            config_dir=self.config_dir,
            templates_dir=REPO / "templates",
            outbox_dir=self.tmp / f"outbox-{role}",
            public_url="https://cadence.test/",
        )
        return build_context(settings)

    def cli(self, *args: str) -> str:
        return run_cli(args, env=self.env("cli"), cwd=self.tmp).stdout

    def start_scheduler(self, name: str = "scheduler", **extra: str) -> Proc:
        proc = Proc(
            name,
            [str(BIN / "cadence"), "scheduler"],
            env=self.env(name, **extra),
            cwd=self.tmp,
            log=self.tmp / f"{name}.log",
        )
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str = "worker", threads: int = 4) -> Proc:
        proc = Proc(
            name,
            [
                str(BIN / "dramatiq"),
                "workers.main",
                "--processes",
                "1",
                "--threads",
                str(threads),
            ],
            env=self.env(name),
            cwd=self.tmp,
            log=self.tmp / f"{name}.log",
        )
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}) ---\n{tail(p.log)}" for p in self.procs)

    # -- prospects -----------------------------------------------------------------------

    def add_prospects(self, count: int, cadence: str, *, prefix: str = "p") -> list[str]:
        """Import ``count`` prospects in the open time zone and enroll them (CLI, as a user)."""
        emails = [f"{prefix}{self.prospects + i:05d}@co{i % 40}.example" for i in range(count)]
        self.prospects += count
        path = self.tmp / f"{prefix}-{self.prospects}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["email", "first_name", "last_name", "company", "title", "timezone"])
            for n, email in enumerate(emails):
                writer.writerow([email, f"Pat{n}", "Doe", f"Company {n % 40}", "CEO", self.zone])
        self.cli("prospects", "import", str(path), "--owner", "alex")
        self.cli("enroll", cadence, "--csv", str(path), "--owner", "alex")
        return emails

    # -- the store -----------------------------------------------------------------------

    def touches(self) -> dict[int, TouchRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, prospect_id, step, status, started_at, reason, enqueues, "
                    "attempts FROM touch"
                )
            ).all()
        return {
            row.id: TouchRow(
                row.id,
                row.prospect_id,
                row.step,
                row.status,
                as_utc(row.started_at),
                row.reason,
                row.enqueues,
                row.attempts,
            )
            for row in rows
        }

    def counts(self) -> Counter[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM touch GROUP BY status")).all()
        return Counter({status: n for status, n in rows})

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(text(sql), params).scalar()

    def age_queued(self) -> int:
        """Move ``queued_at`` of every queued touch back by just over the scheduler's stale
        timeout (REQUEUE_AFTER, doubled per earlier re-enqueue): this simulates that much
        time passing without a worker picking them up, which the test cannot wait for."""
        with self.engine.begin() as conn:
            return conn.execute(
                text(
                    "UPDATE touch SET queued_at = queued_at - ("
                    "interval '10 minutes' * power(2, greatest(enqueues - 1, 0)) "
                    "+ interval '1 minute') WHERE status = 'queued'"
                )
            ).rowcount

    def reap(self, ahead: timedelta = timedelta(minutes=20)) -> int:
        """Run the reaper as the scheduler would ``ahead`` from now (past UNCONFIRMED_AFTER)."""
        with transaction(self.engine) as session:
            return mark_unconfirmed(session, now=datetime.now(UTC) + ahead)

    def drop_connections(self) -> int:
        """Terminate every PostgreSQL backend of the processes under test."""
        with self.admin.begin() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() "
                        "AND starts_with(application_name, :prefix)"
                    ),
                    {"prefix": self.app_prefix},
                ).all()
            )

    def status(self) -> dict[str, Any]:
        """``cadence status --json``: what an operator would see."""
        result: dict[str, Any] = json.loads(self.cli("status", "--json"))
        return result

    def connected(self, role: str) -> bool:
        """Whether the process started as ``role`` has a connection to the store."""
        with self.admin.connect() as conn:
            return bool(
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"),
                    {"a": f"{self.app_prefix}{role}"},
                ).scalar()
            )

    def queue_depth(self) -> dict[str, int]:
        """Messages (each a batch of touch ids) waiting and delayed."""
        return broker_depth(self.redis.url, TOUCH_QUEUE)

    def queued_touch_ids(self) -> list[int]:
        """Every touch id in the messages waiting on the queue, once per message holding it."""
        import redis

        client = redis.Redis.from_url(self.redis.url)
        try:
            raw = client.hvals(f"dramatiq:{TOUCH_QUEUE}.msgs")
        finally:
            client.close()
        ids: list[int] = []
        for message in raw:
            (batch,) = json.loads(message)["args"]
            ids.extend([batch] if isinstance(batch, int) else batch)
        return ids

    # -- waiting -------------------------------------------------------------------------

    def fail(self, message: str) -> None:
        pytest.fail(
            f"{message}\nstore: {dict(self.counts())}, sink received {self.sink.count()}\n"
            f"{self.logs()}",
            pytrace=False,
        )

    def check_processes(self, doing: str) -> None:
        for proc in self.procs:
            if not proc.stopped and not proc.alive():
                self.fail(f"{proc.name} exited ({proc.popen.returncode}) while {doing}")

    def wait_until(
        self, what: str, check: Callable[[], bool], timeout: float = 120.0, every: float = 0.1
    ) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout}s waiting until {what}")
            self.check_processes(what)
            time.sleep(every)

    def drain(
        self,
        *,
        age_when_stalled: bool,
        exclude: frozenset[int] = frozenset(),
        timeout: float = 180.0,
        stall: float = 4.0,
        until: Callable[[], bool] | None = None,
        stuck_sending_ok: bool = False,
    ) -> int:
        """Wait until every touch (but ``exclude``) is settled, or ``until`` holds; returns how
        many times the queued ones had to be aged (see :meth:`age_queued`) to get there.

        With ``stuck_sending_ok``, touches still ``sending`` once nothing has moved for
        ``stall`` seconds are left for the reaper: their worker lost its connection to the
        store after handing the message over (or died), so nothing will move them sooner."""
        deadline = time.monotonic() + timeout
        last: object = None
        changed = time.monotonic()
        agings = 0
        while True:
            touches = self.touches()
            pending = [
                t for t in touches.values() if t.status not in SETTLED and t.id not in exclude
            ]
            if not pending or (until is not None and until()):
                return agings
            signature = (Counter(t.status for t in touches.values()), self.sink.count())
            now = time.monotonic()
            if signature != last:
                last, changed = signature, now
            elif now - changed > stall:
                if stuck_sending_ok and all(t.status == "sending" for t in pending):
                    return agings
                if age_when_stalled and any(t.status == "queued" for t in pending):
                    agings += 1
                    self.age_queued()
                    changed = now
                elif not age_when_stalled and now - changed > 3 * stall:
                    self.fail(f"no progress for {3 * stall}s with {len(pending)} touches pending")
            if now > deadline:
                self.fail(f"{len(pending)} touches still pending after {timeout}s")
            self.check_processes("draining")
            time.sleep(0.2)

    def tally(self, name: str, allowed: Iterable[str] = ("sent", "unconfirmed")) -> Tally:
        return Tally(name, self.touches(), self.sink.per_touch(), frozenset(allowed))

    def shutdown(self) -> None:
        """SIGTERM every process still running, workers first; each must exit cleanly."""
        running = [p for p in self.procs if p.alive()]
        for proc in sorted(running, key=lambda p: not p.name.startswith("worker")):
            code = proc.terminate()
            assert code == 0, f"{proc.name} exited {code}\n{self.logs()}"

    # -- teardown ------------------------------------------------------------------------

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.popen.terminate()
        for proc in self.procs:
            try:
                proc.popen.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
            proc.reap_group()


def make_admin_engine() -> Engine:
    return create_engine(POSTGRES_ADMIN_URL, pool_pre_ping=True)


def make_store_engine(schema: str) -> Engine:
    return create_engine(
        f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}&application_name=test_{schema}",
        pool_pre_ping=True,
    )
