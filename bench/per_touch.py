"""Where one delivered touch's time goes, in one process with no broker: SQL statements per
touch (a SQLAlchemy ``before_cursor_execute`` listener), time per statement, commits, the
stages (render, compose) against bare Jinja and email baselines, and a cProfile of
``deliver_touches``.

    python bench/per_touch.py [--touches 2000] [--backend postgresql|sqlite|both] [--batch 40]
                              [--threads 1] [--send-ms 0]

Touches are bulk-loaded due now, claimed with ``claim_due`` (as the scheduler does), then
delivered ``--batch`` at a time with ``deliver_touches`` (as a worker handles one message)
into a null transport (or ``--outbox``); ``--batch 1`` is one touch per message. With
``--threads N`` the timed half is delivered by N threads (a worker process's threads), and
``--send-ms`` makes each send take that long, as a remote mail server's round trips do: a
batch then stays in hand long enough for delivery's look for halts to run, and the figures
include it. The cProfile half always runs in one thread.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import _bench_config as bench_config
import _output as output
import _profiles as profiles
import _scratch as scratch
import _servers as servers
import _store_rows as store_rows


class NullTransport:
    """Accepts everything: isolates Cadence's own cost from the mail system's; with
    ``send_seconds``, each send waits that long (a mail server's latency, no CPU)."""

    def __init__(self, send_seconds: float = 0.0) -> None:
        self.sent = 0
        self.send_seconds = send_seconds

    def send(self, message: Any) -> None:
        from cadence.transports.wire import wire_bytes

        wire_bytes(message)  # serialised as the real transports do
        self.sent += 1
        if self.send_seconds:
            time.sleep(self.send_seconds)

    def close(self) -> None:
        pass


_WS = re.compile(r"\s+")


def statement_key(sql: str) -> str:
    """A short, stable label: verb, table and the gist of the WHERE clause."""
    sql = _WS.sub(" ", sql).strip()
    verb = sql.split(" ", 1)[0].upper()
    if verb == "SELECT":
        table = re.search(r"\bFROM (\w+)", sql)
        where = re.search(r"\bWHERE (.{0,70})", sql)
        lock = " FOR UPDATE" if "FOR UPDATE" in sql else ""
        what = "count(*)" if "count(" in sql else ""
        return f"SELECT {what}{table[1] if table else '?'}{lock} WHERE {where[1] if where else ''}"
    if verb == "INSERT":
        return "INSERT " + (re.search(r"INTO (\w+)", sql) or ["", "?"])[1]
    if verb == "UPDATE":
        sets = re.search(r"SET (.{0,60})", sql)
        return f"UPDATE {sql.split(' ')[1]} SET {sets[1] if sets else ''}"
    return sql[:60]


class StatementCounter:
    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.commits = 0
        self._start: dict[int, float] = {}
        self.enabled = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.enabled:
            self._start[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not self.enabled:
            return
        key = statement_key(statement)
        spent = time.perf_counter() - self._start.pop(id(cursor), time.perf_counter())
        self.count[key] += 1
        self.seconds[key] += spent

    def _commit(self, conn: Any) -> None:
        if self.enabled:
            self.commits += 1


def load(engine: Any, n: int, now: datetime, backend: str) -> None:
    if backend == "postgresql":
        store_rows.load_due_touches(engine, n, now)
        return
    from sqlalchemy import text

    ids = range(1, n + 1)
    due = store_rows.naive(now - timedelta(minutes=1))

    def insert(table: str, cols: tuple[str, ...], rows: Any) -> None:
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + x for x in cols)})"
        with engine.begin() as conn:
            conn.execute(text(sql), [dict(zip(cols, r, strict=True)) for r in rows])

    insert("prospect", store_rows.PROSPECT_COLS, store_rows.prospect_rows(ids, now))
    insert("enrollment", store_rows.ENROLLMENT_COLS, store_rows.enrollment_rows(ids, now))
    insert(
        "touch",
        store_rows.TOUCH_COLS,
        ((i, i, i, 1, "email", "ceo/intro", "scheduled", due, None, None, None, None, None, 0, 0)
         for i in ids),
    )  # fmt: skip


def claim_all(ctx: Any, n: int) -> list[int]:
    from cadence.scheduler.due_touches import claim_due
    from cadence.store.database import is_postgres, transaction

    with transaction(ctx.engine) as session:
        return claim_due(session, now=ctx.clock.now(), limit=n, skip_locked=is_postgres(ctx.engine))


def deliver_all(ctx: Any, parts: list[list[int]], threads: int) -> Counter[str]:
    """Deliver the batches as a worker process would, with ``threads`` threads taking the
    next message when done."""
    from cadence.delivery.batch import deliver_touches

    outcomes: Counter[str] = Counter()
    queue = list(reversed(parts))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                part = queue.pop()
            done = deliver_touches(ctx, part)
            with lock:
                outcomes.update(done.values())

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return outcomes


def run_backend(
    backend: str,
    n: int,
    outbox: bool,
    profile_top: int,
    batch: int,
    threads: int = 1,
    send_ms: float = 0.0,
) -> dict[str, Any]:
    from cadence.delivery.batch import deliver_touches
    from cadence.runtime.store_setup import init_store

    tag = "pertouch"
    with scratch.workdir(tag) as root:
        volume = scratch.settle_file_creation(root / "outbox") if outbox else {}
        if backend == "postgresql":
            schema_cm: Any = servers.pg_schema(tag)
        else:
            from contextlib import nullcontext

            schema_cm = nullcontext(f"sqlite:///{root / 'cadence.db'}")
        with schema_cm as db_url:
            env = bench_config.cadence_env(database_url=db_url, redis_url=None, root=root)
            transport = None if outbox else NullTransport(send_ms / 1000)
            ctx = bench_config.context_from_env(env, transport=transport)
            try:
                init_store(ctx)
                load(ctx.engine, 2 * n, datetime.now(UTC), backend)
                ids = claim_all(ctx, 2 * n)
                first, second = ids[:n], ids[n:]
                counter = StatementCounter(ctx.engine)
                counter.enabled = True
                started, cpu_started = time.perf_counter(), time.process_time()
                outcomes = deliver_all(ctx, batches(first, batch), threads)
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                counter.enabled = False
                profiler = cProfile.Profile()
                profiler.enable()
                for part in batches(second, batch):
                    deliver_touches(ctx, part)
                profiler.disable()
            finally:
                ctx.close()
    return {
        "backend": backend,
        "touches": n,
        **volume,
        "outcomes": dict(outcomes),
        "seconds": elapsed,
        "per_s": n / elapsed,
        "ms_per_touch": 1000 * elapsed / n,
        "threads": threads,
        "send_ms": send_ms,
        "cpu_ms_per_touch": 1000 * cpu / n,
        "statements_per_touch": sum(counter.count.values()) / n,
        "commits_per_touch": counter.commits / n,
        "sql_ms_per_touch": 1000 * sum(counter.seconds.values()) / n,
        "statements": {
            k: {"per_touch": v / n, "ms_per_touch": 1000 * counter.seconds[k] / n}
            for k, v in counter.count.most_common()
        },
        "_profiler": profiler,
    }


def batches(ids: list[int], size: int) -> list[list[int]]:
    """The ids as the scheduler enqueues them: one worker message per ``size`` touches."""
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def print_cprofile(profiler: cProfile.Profile, n: int, top: int) -> None:
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    root = [v for k, v in entries.items() if k[2] == "deliver_touches"]
    total = root[0][3] if root else sum(v[2] for v in entries.values())
    rows = []
    for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in entries.items():
        short = profiles.short_path(file)
        rows.append((cumtime, tottime, calls, f"{func} ({short}:{line})"))
    print(f"  cProfile of deliver_touches over {n} touches ({1000 * total / n:.2f} ms/touch "
          "under the profiler); cumulative % of deliver_touches:")  # fmt: skip
    shown = 0
    for cum, _tot, calls, name in sorted(rows, reverse=True):
        if not re.search(r"cadence/|workers/|jinja2/environment|email/message.py|"
                         r"sqlalchemy/orm/session.py|psycopg/cursor.py|sqlite3", name):  # fmt: skip
            continue
        print(f"    {100 * cum / total:5.1f}%  {calls / n:6.1f} calls/touch  {name}")
        shown += 1
        if shown >= top:
            break
    # Where the time is spent itself, any library's: where a cut can come from.
    print("  self time, µs a touch (every function, the largest first):")
    for _cum, tot, calls, name in sorted(rows, key=lambda row: row[1], reverse=True)[:top]:
        print(f"    {1e6 * tot / n:7.1f} µs  {calls / n:6.1f} calls/touch  {name}")


def stage_baselines(n: int = 5000) -> dict[str, float]:
    """Per-stage rates in this process: Cadence's renderer against a bare compiled Jinja
    sandbox template, and compose()+as_bytes()."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from cadence.authoring.catalog import load_catalog
    from cadence.delivery.compose import compose
    from cadence.runtime.shipped_files import shipped_root

    root = shipped_root()
    catalog = load_catalog(root / "config", root / "templates")
    template = catalog.templates["ceo/intro"]
    context = {
        "first_name": "Ana", "company": "Acme", "email": "a@acme.example",
        "value_proposition": {"claim": "40% faster ramp", "proof": "a proof"},
        "sender": {"first_name": "Alex", "company": "Brightwave"},
    }  # fmt: skip
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    compiled = env.from_string(template.body)
    subject = env.from_string(template.subject or "")
    out: dict[str, float] = {}

    def rate(fn: Any) -> float:
        fn()
        started = time.perf_counter()
        for _ in range(n):
            fn()
        return n / (time.perf_counter() - started)

    out["bare_jinja_compiled_render_per_s"] = rate(
        lambda: (compiled.render(context), subject.render(context))
    )
    out["bare_jinja_compile_each_time_per_s"] = rate(
        lambda: (env.from_string(template.body).render(context),
                 env.from_string(template.subject or "").render(context))
    )  # fmt: skip
    out["cadence_renderer_render_per_s"] = rate(
        lambda: catalog.renderer.render("ceo/intro", context)
    )
    from cadence.delivery.compose import OutgoingEmail

    email = OutgoingEmail(
        touch_id=1, message_id="<cadence.1.x@brightwave.example>", sender_name="Alex Bench",
        sender_email="alex@brightwave.example", recipient_name="Ana Bench",
        recipient_email="p1@co0.example", subject="Acme and Brightwave", body="Hi Ana,\n\nx\n",
        date=datetime.now(UTC), unsubscribe_url=f"{bench_config.PUBLIC_URL}/unsubscribe/t1",
        unsubscribe_mailto="mailto:unsubscribe@brightwave.example?subject=unsubscribe%20t1",
    )  # fmt: skip
    out["compose_and_as_bytes_per_s"] = rate(lambda: compose(email).as_bytes())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--touches", type=int, default=2000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--outbox", action="store_true", help="file outbox, not a null transport")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--batch", type=int, default=40, help="touches per worker message")
    parser.add_argument("--threads", type=int, default=1, help="threads delivering the timed half")
    parser.add_argument("--send-ms", type=float, default=0.0, help="each send waits this long")
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {"machine": output.machine()}
    stages = stage_baselines()
    results["stages"] = stages
    print("stages in one process (higher is better):")
    for key, value in stages.items():
        print(f"  {key}: {value:,.0f}")
    ratio = stages["cadence_renderer_render_per_s"] / stages["bare_jinja_compiled_render_per_s"]
    print(f"  cadence render / bare compiled render: {ratio:.2f}")
    for backend in backends:
        output.log(f"per-touch harness on {backend}")
        r = run_backend(
            backend, args.touches, args.outbox, args.top, args.batch, args.threads, args.send_ms
        )
        profiler = r.pop("_profiler")
        results[backend] = r
        print(
            f"\n{backend}: {r['touches']} touches delivered by {args.threads} thread(s), "
            f"{args.batch} a message, each send {args.send_ms:g} ms ({r['outcomes']}): "
            f"{r['ms_per_touch']:.2f} ms/touch = {r['per_s']:.0f}/s, "
            f"{r['cpu_ms_per_touch']:.3f} ms of this process's CPU a touch; "
            f"{r['statements_per_touch']:.1f} SQL statements and {r['commits_per_touch']:.1f} "
            f"commits per touch; {r['sql_ms_per_touch']:.2f} ms/touch inside cursor.execute"
            + (f"; a new file cost {r['file_creation_cpu_us']:.0f} µs of CPU at the start"
               if "file_creation_cpu_us" in r else "")
        )  # fmt: skip
        print("  statements per touch (count, ms/touch inside execute):")
        for key, v in r["statements"].items():
            print(f"    {v['per_touch']:4.1f}  {v['ms_per_touch']:6.3f} ms  {key}")
        print_cprofile(profiler, r["touches"], args.top)
    output.emit_json("per_touch", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
