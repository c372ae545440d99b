"""Helpers the benchmarks share: private Redis, a throw-away PostgreSQL schema, a bench config,
bulk loading, worker processes, peak RSS, and py-spy profile summaries.

Benchmarks talk only to loopback. Each run starts its own ``redis-server`` on a free port (or
uses ``BENCH_REDIS_URL`` if set, flushing only that database), and creates its own PostgreSQL
schema in ``BENCH_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), which
it drops at the end.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: Unsubscribe links must not point at localhost when SMTP is configured (build_context).
PUBLIC_URL = "https://cadence.bench.example"
OWNERS = ("alex", "priya", "jonas")
#: Prospects per company: replies lock every live enrollment of the account.
PER_COMPANY = 10


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- Redis -------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free loopback port (no persistence), or BENCH_REDIS_URL."""
    import redis

    given = os.environ.get("BENCH_REDIS_URL")
    if given:
        client = redis.Redis.from_url(given)
        client.flushdb()
        try:
            yield given
        finally:
            client.flushdb()
            client.close()
        return
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found; set BENCH_REDIS_URL=redis://127.0.0.1:6379/13")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_for(up, timeout=10, what="redis-server")
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def redis_version(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


# --- PostgreSQL ----------------------------------------------------------------------------


@contextlib.contextmanager
def pg_schema(tag: str) -> Iterator[str]:
    """A fresh schema ``bench_<tag>_<random>``; yields a URL whose search_path is that schema."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{tag}_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def pg_version() -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar())
    engine.dispose()
    return version


# --- Configuration -------------------------------------------------------------------------

BENCH_CADENCE = """\
name = "bench"
description = "Benchmark cadence: open around the clock, every step due at once"
business_days = false
on_reply = "halt"

[send_window]
start = "00:00"
end = "23:59"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[[steps]]
template = "ceo/intro"
delay = "0d"

[[steps]]
template = "checkin/last"
delay = "1d"
"""

BENCH_TEAM = """\
default_owner = "alex"
default_timezone = "UTC"

[company]
name = "Brightwave"
domain = "brightwave.example"
postal_address = "Brightwave Inc., 500 Market Street, Suite 300, San Francisco, CA 94105, USA"
"""


def write_config(root: Path) -> dict[str, str]:
    """Shipped templates and config, with one 24/7 two-step cadence and send limits raised
    out of the way (the default 200 a day per mailbox would stop a 20,000-touch run)."""
    from cadence.runtime.defaults import shipped_root

    source = shipped_root()
    config = root / "config"
    templates = root / "templates"
    shutil.copytree(source / "config", config)
    shutil.copytree(source / "templates", templates)
    for old in (config / "cadences").glob("*.toml"):
        old.unlink()
    (config / "cadences" / "bench.toml").write_text(BENCH_CADENCE, encoding="utf-8")
    team = BENCH_TEAM
    for name in OWNERS:
        team += (
            f'\n[[sdr]]\nname = "{name}"\nfull_name = "{name.title()} Bench"\n'
            f'email = "{name}@brightwave.example"\ndaily_cap = 100000000\nper_minute = 100000000\n'
        )
    (config / "team.toml").write_text(team, encoding="utf-8")
    return {"config_dir": str(config), "templates_dir": str(templates)}


def cadence_env(
    *, database_url: str, redis_url: str | None, root: Path, smtp_url: str | None = None
) -> dict[str, str]:
    dirs = (
        write_config(root)
        if not (root / "config").exists()
        else {
            "config_dir": str(root / "config"),
            "templates_dir": str(root / "templates"),
        }
    )
    env = {
        "CADENCE_DATABASE_URL": database_url,
        "CADENCE_CONFIG_DIR": dirs["config_dir"],
        "CADENCE_TEMPLATES_DIR": dirs["templates_dir"],
        "CADENCE_OUTBOX_DIR": str(root / "outbox"),
        "CADENCE_PUBLIC_URL": PUBLIC_URL,
        "CADENCE_SCHEDULER_INTERVAL_SECONDS": "1",
    }
    if redis_url:
        env["CADENCE_REDIS_URL"] = redis_url
    if smtp_url:
        env["CADENCE_SMTP_URL"] = smtp_url
    return env


def context_from_env(env: dict[str, str], **kwargs: Any) -> Any:
    from cadence.runtime.context import build_context
    from cadence.runtime.settings import load_settings

    overrides = {k.removeprefix("CADENCE_").lower(): v for k, v in env.items()}
    return build_context(load_settings(**overrides), **kwargs)


# --- Bulk loading --------------------------------------------------------------------------


def naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def copy_rows(
    engine: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY rows into ``table`` through psycopg (fast enough for millions of rows)."""
    raw = engine.raw_connection()
    count = 0
    try:
        conn = raw.driver_connection
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp,
        ):
            for row in rows:
                cp.write_row(row)
                count += 1
        conn.commit()
    finally:
        raw.close()
    return count


PROSPECT_COLS = (
    "id", "email", "first_name", "last_name", "company", "title", "persona", "timezone",
    "country", "stage", "owner", "custom", "do_not_contact", "email_status",
    "unsubscribe_token", "created_at", "updated_at",
)  # fmt: skip
ENROLLMENT_COLS = ("id", "prospect_id", "cadence", "owner", "state", "enrolled_at", "updated_at")
TOUCH_COLS = (
    "id", "enrollment_id", "prospect_id", "step", "channel", "template", "status", "due_at",
    "sent_at", "started_at", "message_id", "subject", "body", "attempts", "enqueues",
)  # fmt: skip
_FIRST = ("Ana", "Ben", "Chloé", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jon")
_PERSONAS = ("ceo", "vp_sales", "revops")


def email_of(i: int) -> str:
    return f"p{i}@co{i // PER_COMPANY}.example"


def prospect_rows(ids: range, now: datetime) -> Iterator[tuple[Any, ...]]:
    at = naive(now)
    for i in ids:
        yield (
            i, email_of(i), _FIRST[i % len(_FIRST)], "Bench", f"Company {i // PER_COMPANY}",
            "CEO", _PERSONAS[i % 3], "UTC", None, "in_profile", OWNERS[i % len(OWNERS)], "{}",
            False, "valid", f"t{i:010d}{secrets.token_hex(6)}", at, at,
        )  # fmt: skip


def enrollment_rows(ids: range, now: datetime) -> Iterator[tuple[Any, ...]]:
    at = naive(now)
    for i in ids:
        yield (i, i, "bench", OWNERS[i % len(OWNERS)], "active", at, at)


def setval(engine: Any, *tables: str) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        for table in tables:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )


def load_due_touches(engine: Any, n: int, now: datetime, *, per_second: float = 0) -> None:
    """``n`` prospects, each actively enrolled in ``bench`` with step 1 due: all in the last
    minute, or with ``per_second`` one every ``1 / per_second`` s from ``now`` (a steady
    offered load instead of a backlog)."""
    ids = range(1, n + 1)
    copy_rows(engine, "prospect", PROSPECT_COLS, prospect_rows(ids, now))
    copy_rows(engine, "enrollment", ENROLLMENT_COLS, enrollment_rows(ids, now))
    if per_second:
        first, step = naive(now), 1 / per_second
    else:
        first, step = naive(now - timedelta(minutes=1)), 1e-6

    def touches() -> Iterator[tuple[Any, ...]]:
        for i in ids:
            yield (
                i, i, i, 1, "email", "ceo/intro", "scheduled", first + timedelta(seconds=i * step),
                None, None, None, None, None, 0, 0,
            )  # fmt: skip

    copy_rows(engine, "touch", TOUCH_COLS, touches())
    setval(engine, "prospect", "enrollment", "touch")
    analyze(engine)


def analyze(engine: Any) -> None:
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def touch_stats(engine: Any, step: int = 1) -> dict[str, Any]:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, count(*) FROM touch WHERE step = :s GROUP BY status"), {"s": step}
        ).all()
        first, last = conn.execute(
            text("SELECT min(queued_at), max(sent_at) FROM touch WHERE step = :s"), {"s": step}
        ).one()
        sent = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT sent_at FROM touch WHERE step = :s AND status = 'sent' ORDER BY sent_at"
                ),
                {"s": step},
            )
        ]
    deciles: dict[str, float] = {}
    tenth = len(sent) // 10
    if tenth >= 10:
        for label, chunk in (
            ("first_tenth_per_s", sent[:tenth]),
            ("last_tenth_per_s", sent[-tenth:]),
            # The same window as the no-op baseline's (end_to_end.run_noop).
            ("middle_80_per_s", sent[tenth:-tenth]),
        ):
            span = (chunk[-1] - chunk[0]).total_seconds()
            deciles[label] = (len(chunk) - 1) / span if span > 0 else float("nan")
    return {
        "statuses": {s: c for s, c in rows},
        "first_claim": first,
        "last_sent": last,
        **deciles,
    }


# --- Processes -----------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.extend(int(c) for c in text.split())
    return found


def vm_kb(pid: int, key: str = "VmHWM") -> int | None:
    """A /proc/<pid>/status figure in kB (VmHWM is the peak resident set size)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Proc:
    """A background process with its output in a log file, stopped by its own pid."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


def cpu_seconds_by_role(roles: dict[int, str]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process on the machine, summed by
    role: the pids in ``roles`` by their given role, PostgreSQL backends and redis-server by
    name, everything else as "other" (the other work on a shared machine). The system part
    of each role is also given alone as "ROLE.kernel": creating files right after many
    deletions costs this machine's ext4 kernel time, which moved the workers' total from
    run to run."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        user, kernel = int(fields[11]) / tick, int(fields[12]) / tick
        pid = int(entry.name)
        role = roles.get(pid) or (
            "postgres" if comm.startswith("postgres") else
            "redis" if comm.startswith("redis-server") else "other"
        )  # fmt: skip
        totals[role] = totals.get(role, 0.0) + user + kernel
        totals[f"{role}.kernel"] = totals.get(f"{role}.kernel", 0.0) + kernel
    return totals


def cpu_ms_per_item(
    before: dict[str, float], after: dict[str, float], items: int
) -> dict[str, float]:
    """Milliseconds of CPU per item, by role, between two :func:`cpu_seconds_by_role` reads.
    Processes that exited in between are missed, so read ``after`` before stopping them."""
    return {
        role: round(1000 * (after.get(role, 0.0) - before.get(role, 0.0)) / max(items, 1), 3)
        for role in sorted(set(before) | set(after))
    }


def cores() -> int:
    """The cores this process may run on (what the processes of a run share)."""
    return len(os.sched_getaffinity(0))


def cpu_ms_all_processes(cpu_ms_per_touch: dict[str, float]) -> float:
    """Every process's CPU a touch from a :func:`cpu_ms_per_item` read: its roles already
    hold their kernel time, so the "ROLE.kernel" parts are left out, and a role that came
    out below zero (a process that exited between the reads) counts as none."""
    return sum(max(ms, 0.0) for role, ms in cpu_ms_per_touch.items() if "." not in role)


def machine_busy(cpu_ms_per_touch: dict[str, float], touches: int, seconds: float) -> float:
    """The fraction of the cores that every process kept busy over the ``seconds`` between
    the two CPU reads, in which ``touches`` were sent."""
    return cpu_ms_all_processes(cpu_ms_per_touch) * touches / 1000 / seconds / cores()


def start(name: str, argv: Sequence[str], env: dict[str, str], logdir: Path) -> Proc:
    path = logdir / f"{name}.log"
    handle = path.open("wb")
    full_env = {**os.environ, **env}
    popen = subprocess.Popen(
        list(argv), env=full_env, stdout=handle, stderr=subprocess.STDOUT, cwd=str(REPO)
    )
    return Proc(name, popen, path)


def start_workers(
    module: str, env: dict[str, str], logdir: Path, *, processes: int, threads: int,
    extra: Sequence[str] = (), wait: bool = True,
) -> Proc:  # fmt: skip
    """``dramatiq MODULE --processes P --threads T``; returns once every process is ready
    (at once with ``wait=False``)."""
    argv = [str(BIN / "dramatiq"), module, *extra, "--processes", str(processes)]
    argv += ["--threads", str(threads)]
    proc = start(f"workers-{module.replace('.', '_')}", argv, env, logdir)

    def ready() -> bool:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"workers exited:\n{proc.text()[-3000:]}")
        return proc.text().count("ready for action") >= processes

    if wait:
        wait_for(ready, timeout=120, what=f"{processes} dramatiq worker processes")
    return proc


# --- Profiles ------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")


@dataclass
class Profile:
    samples: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)
    own: Counter[str] = field(default_factory=Counter)


def _short(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def read_collapsed(path: Path) -> Profile:
    """Summarise py-spy ``--format raw`` (collapsed stacks) per function, file-qualified."""
    profile = Profile()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        names = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame.strip())
            if match:
                names.append(f"{match['func']} ({_short(match['file'])})")
        if not names:
            continue
        profile.samples += count
        for name in set(names):
            profile.inclusive[name] += count
        profile.own[names[-1]] += count
    return profile


def print_profile(profile: Profile, *, top: int = 25, include: str = "") -> None:
    total = profile.samples or 1
    print(f"  {profile.samples} samples")
    print("  inclusive % (function appears anywhere in the stack):")
    shown = 0
    for name, count in profile.inclusive.most_common():
        if include and not re.search(include, name):
            continue
        print(f"    {100 * count / total:5.1f}%  {name}")
        shown += 1
        if shown >= top:
            break
    print("  self % (leaf frames):")
    for name, count in profile.own.most_common(top):
        print(f"    {100 * count / total:5.1f}%  {name}")


def py_spy_record(
    pid: int, out: Path, seconds: float, *, rate: int = 100, gil: bool = False
) -> subprocess.Popen[bytes]:
    """Sample ``pid`` into collapsed stacks: all its threads, or with ``gil`` only the one
    holding the GIL (where a process's Python CPU goes, not where its threads wait)."""
    return subprocess.Popen(
        [str(BIN / "py-spy"), "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
         "--duration", str(int(seconds)), "--rate", str(rate), "--nonblocking",
         *(["--gil"] if gil else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


# --- Output --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.split("\n")[1]
    return {
        "nproc": str(os.cpu_count()),
        "mem": " ".join(mem.split()[:2]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Other work on the machine skews absolute figures; ratios are measured in the same run.
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": _git("rev-parse", "--short", "HEAD"),
        # Uncommitted edits to the code under measurement, if any (others work in parallel).
        "dirty": _git("status", "--porcelain", "--", "cadence", "workers").replace("\n", "; "),
    }


def _git(*args: str) -> str:
    """Read-only git queries, to record which code a figure belongs to."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    except OSError:
        return "?"
    return out.stdout.strip()


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def emit_json(name: str, data: dict[str, Any]) -> None:
    """Machine-readable results next to the printed ones (bench/results/<name>.json)."""
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")


#: Folders to remove when the script exits (see :func:`discard`).
_DISCARDED: list[Path] = []


def discard(path: Path) -> None:
    """Remove ``path`` when the script exits, not now: for about a minute after thousands of
    files are deleted, ext4 makes each new file cost ten times the CPU (its inode allocator
    steps over recently freed inodes: 0.08 ms a file before a 27,000-file delete, 1.0 ms
    right after, measured here), so a run that followed another's cleanup (the 10,000-prospect
    demo after the 1,000 one, the SMTP run after the outbox one) would be charged for it."""
    if os.environ.get("BENCH_KEEP"):
        return
    if not _DISCARDED:
        atexit.register(_remove_discarded)
    _DISCARDED.append(path)


def _remove_discarded() -> None:
    for path in _DISCARDED:
        shutil.rmtree(path, ignore_errors=True)


#: CPU a new file costs on this volume when no files were deleted lately (16-27 µs measured
#: here); after a large delete, 60-1,000 µs for minutes. A run started at 34 µs still paid
#: twice the usual kernel time a touch.
SETTLED_FILE_CREATION_US = 30.0


def settle_file_creation(folder: Path, *, timeout: float = 240.0) -> dict[str, float]:
    """Wait, about ``timeout`` seconds at most, until creating a file in ``folder`` (made if
    missing) costs what it does on a quiet volume, and say what it cost: the figure a
    file-outbox run starts from. Give the folder the run writes into: ext4 allocates a
    file's inode in its folder's block group, and another folder's may be quiet sooner.

    ext4 without a journal, as this volume is (``find_inode_bit`` → ``recently_deleted``,
    seen with ``perf``), steps over every inode freed in the last half minute or so each time
    it allocates one, so after another run's cleanup, or any other deletes on the machine,
    each new file costs up to ten times its usual CPU. A benchmark that writes one file a
    touch would charge that to Cadence. The probe files (``.probe-*``) stay until the folder
    is discarded: deleting them would cause the same."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    made = 0
    while True:
        cpu = time.thread_time()
        for _ in range(500):
            path = folder / f".probe-{made:07d}"
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            made += 1
        cost_us = (time.thread_time() - cpu) / 500 * 1e6
        waited = time.monotonic() - started
        if cost_us <= SETTLED_FILE_CREATION_US or waited >= timeout:
            break
        log(f"a new file costs {cost_us:.0f} µs of CPU here (files deleted lately); waiting")
        time.sleep(10)
    if cost_us > SETTLED_FILE_CREATION_US:
        log(f"a new file still costs {cost_us:.0f} µs of CPU after {waited:.0f}s; going on")
    return {"file_creation_cpu_us": round(cost_us, 1), "waited_for_quiet_volume_s": round(waited)}


@contextlib.contextmanager
def workdir(tag: str) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix=f"cadence-bench-{tag}-"))
    try:
        yield root
    finally:
        discard(root)
