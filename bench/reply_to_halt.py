"""Reply to halt: p50/p99 from an inbound reply arriving (``record_by_hand`` with
EventKind.REPLY, as webhooks and ``cadence event reply`` do) to its enrollment being halted
(the transaction committed), while the end-to-end run delivers touches on Redis and PostgreSQL.

    python bench/reply_to_halt.py [--pace 1000] [--touches N] [--replies 300] [--reply-rate 10]
                                  [--threads 4]

The target asks for 1,000 touches/s of background delivery: the touches fall due at
``--pace`` a second (``--pace 0``: all at once, a backlog delivered as fast as the machine
can, which measures a saturated machine's queues rather than this load), and the script
reports the delivery rate actually reached during the replies. Baseline in the same run:
the same reply on an idle store (no delivery), so the ratio shows what load adds. With a
pace, each reply goes to a prospect at the delivery front, read from the store as the reply
is about to arrive (10 per company, so the account lock covers 10 enrollments): some just
sent, some in flight, some next in line.
Afterwards it checks that no touch of a replied prospect started after its reply was
recorded (design invariant 2). Meanwhile, every 10 ms, it samples which transactions the
replies' enrollment locks wait for (``pg_blocking_pids``), and prints the longest waits
seen with what their holders were doing.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import _bench_config as bench_config
import _output as output
import _processes as procs
import _scratch as scratch
import _servers as servers
import _store_rows as store_rows
import _usage as usage
from end_to_end import run_cadence
from per_touch import StatementCounter

#: Seconds from the call to :func:`fire` to the first reply's arrival.
FIRST_REPLY_AFTER = 0.2


def fire(ctx: Any, pick: Callable[[int], str], count: int, rate: float) -> dict[str, Any]:
    """Send ``count`` replies at ``rate``/s from a small pool, reply ``k`` from the prospect
    ``pick(k)`` (chosen before it arrives); latency counts from the planned arrival."""
    from cadence.core.domain import EventKind
    from cadence.sequences.events import record_by_hand

    latencies: list[float] = []
    recorded: dict[str, datetime] = {}
    errors: list[str] = []
    lock = threading.Lock()
    t0 = time.perf_counter() + FIRST_REPLY_AFTER

    def one(k: int) -> None:
        email = pick(k)
        arrive = t0 + k / rate
        delay = arrive - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        at = datetime.now(UTC)
        try:
            record_by_hand(ctx, EventKind.REPLY, email, actor="bench", source="bench")
        except Exception as exc:  # noqa: BLE001 - a benchmark reports failures, never hides them
            with lock:
                errors.append(f"{email}: {type(exc).__name__}: {exc}")
            return
        done = time.perf_counter()
        with lock:
            latencies.append(1000 * (done - arrive))
            recorded[email] = at

    started = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=8) as pool:
        for k in range(count):
            pool.submit(one, k)
    ended = datetime.now(UTC)
    return {
        "latencies_ms": latencies,
        "recorded": recorded,
        "errors": errors,
        "window": (started, ended),
    }


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "count": len(latencies),
        "p50_ms": output.percentile(latencies, 50),
        "p99_ms": output.percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
    }


def idle_baseline(n_replies: int, rate: float) -> dict[str, Any]:
    """The same replies on a store with nothing being delivered."""
    from cadence.runtime.store_setup import init_store

    with servers.pg_schema("halt_idle") as db_url, scratch.workdir("halt-idle") as root:
        env = bench_config.cadence_env(database_url=db_url, redis_url=None, root=root)
        ctx = bench_config.context_from_env(env)
        try:
            init_store(ctx)
            n = max(2000, n_replies * 2)
            store_rows.load_due_touches(ctx.engine, n, datetime.now(UTC))
            emails = [
                store_rows.email_of(i) for i in random.Random(3).sample(range(1, n + 1), n_replies)
            ]
            out = fire(ctx, emails.__getitem__, len(emails), rate)
        finally:
            ctx.close()
    return summary(out["latencies_ms"])


def reply_targets(
    engine: Any, args: argparse.Namespace, rng: random.Random
) -> Callable[[int], str]:
    """Who replies. With a pace, a prospect whose touch was sent in the last second of
    delivery or is next in line (up to half a second's pace ahead of the last one sending or
    sent), read from the store as the reply is about to arrive: the replies that meet a
    worker's locks, wherever delivery has got to, also when it lags the pace. Each prospect
    replies once. Without a pace, anyone of the run."""
    if not args.pace:
        chosen = [
            store_rows.email_of(i) for i in rng.sample(range(1, args.touches + 1), args.replies)
        ]
        return chosen.__getitem__
    from sqlalchemy import text

    # Touch ids follow due times, and due touches are claimed oldest first.
    progress = text("SELECT max(id) FROM touch WHERE step = 1 AND status IN ('sending', 'sent')")
    taken: set[int] = set()
    lock = threading.Lock()

    def pick(_k: int) -> str:
        with engine.connect() as conn:
            front = conn.execute(progress).scalar() or 1
        low = max(1, front - int(args.pace))
        high = min(args.touches, front + int(args.pace / 2))
        with lock:
            free = [i for i in range(low, high + 1) if i not in taken]
            if not free:  # the window is used up: any prospect not yet replying
                free = [i for i in range(1, args.touches + 1) if i not in taken]
            chosen = rng.choice(free)
            taken.add(chosen)
        return store_rows.email_of(chosen)

    return pick


class LockWaits:
    """Samples, while the replies run, the replies' waits for enrollment locks and the
    transactions they wait for: how long the reply has waited, and the holder's age, state,
    wait event and last statement. A reply's lock statement is the one that selects
    enrollments by ``prospect_id =`` (a claim's selects them by touch id)."""

    SAMPLE = """
        SELECT w.pid, extract(epoch FROM clock_timestamp() - w.query_start) * 1000,
               b.pid, b.state, extract(epoch FROM clock_timestamp() - b.xact_start) * 1000,
               coalesce(b.wait_event, ''), left(regexp_replace(b.query, '\\s+', ' ', 'g'), 72)
        FROM pg_stat_activity w
        JOIN pg_stat_activity b ON b.pid = ANY(pg_blocking_pids(w.pid))
        WHERE w.datname = current_database()
          AND w.query LIKE 'SELECT enrollment.id%FOR UPDATE%'
          AND w.query LIKE '%prospect_id = %'
    """

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._longest: dict[tuple[int, int], tuple[float, str, float, str, str]] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from sqlalchemy import text

        sample = text(self.SAMPLE)
        with self._engine.connect() as conn:
            while not self._stop.is_set():
                for waiter, waited, holder, state, age, event, query in conn.execute(sample):
                    key = (waiter, holder)
                    if key not in self._longest or waited > self._longest[key][0]:
                        self._longest[key] = (float(waited), state, float(age), event, query)
                conn.commit()
                self._stop.wait(0.01)

    def longest(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` longest waits seen (one per reply and holder), longest first."""
        waits = sorted(self._longest.values(), key=lambda w: -w[0])[:n]
        return [
            {"waited_ms": w, "holder_state": st, "holder_xact_ms": age, "holder_wait": ev,
             "holder_statement": q}
            for w, st, age, ev, q in waits
        ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pace", type=float, default=1000.0, help="touches falling due a second")
    parser.add_argument(
        "--touches", type=int, default=0, help="default: enough for the replies at --pace"
    )
    parser.add_argument("--replies", type=int, default=300)
    parser.add_argument("--reply-rate", type=float, default=10.0, help="replies per second")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="the Procfile's")
    args = parser.parse_args()
    replying = args.replies / args.reply_rate
    enough = int(args.pace * (replying + 15))  # the replies, and 15 s to reach pace
    if not args.touches:
        args.touches = enough if args.pace else 20_000
    elif args.pace and args.touches < enough:
        parser.error(
            f"--touches {args.touches} ends the paced load before the replies do; "
            f"at --pace {args.pace:g} give at least {enough}"
        )
    rng = random.Random(11)
    results: dict[str, Any] = {
        "machine": output.machine(),
        "touches": args.touches,
        "pace_per_s": args.pace,
    }
    output.log("idle baseline")
    idle = idle_baseline(args.replies, args.reply_rate)
    results["idle"] = idle
    print(
        f"idle store: reply → halted p50 {idle['p50_ms']:.1f} ms, p99 {idle['p99_ms']:.1f} ms "
        f"({idle['count']} replies)"
    )

    def during(ctx: Any, env: dict[str, str]) -> dict[str, Any]:
        from sqlalchemy import text

        def sent() -> int:
            with ctx.engine.connect() as conn:
                return int(
                    conn.execute(text("SELECT count(*) FROM touch WHERE status = 'sent'")).scalar()
                    or 0
                )

        # Let delivery reach its pace before the replies start.
        procs.wait_for(lambda: sent() >= 200, timeout=300, what="delivery to start")
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        # The bench's own statements (picking targets, sampling lock waits) on an engine of
        # their own, so the statements counted per reply are the reply's alone; no pool, so
        # nothing of it outlives the replies.
        side = create_engine(ctx.engine.url, poolclass=NullPool)
        pick = reply_targets(side, args, rng)
        counter = StatementCounter(ctx.engine)
        counter.enabled = True
        with LockWaits(side) as waits:
            out = fire(ctx, pick, args.replies, args.reply_rate)
        counter.enabled = False
        side.dispose()
        start, end = out["window"]
        with ctx.engine.connect() as conn:
            delivered = conn.execute(
                text("SELECT count(*) FROM touch WHERE sent_at BETWEEN :a AND :b"),
                {"a": store_rows.naive(start), "b": store_rows.naive(end)},
            ).scalar()
            late = 0
            halted = 0
            for email, at in out["recorded"].items():
                row = conn.execute(
                    text(
                        "SELECT e.state, (SELECT count(*) FROM touch t WHERE t.enrollment_id = "
                        "e.id AND t.started_at > :at) FROM enrollment e JOIN prospect p ON "
                        "p.id = e.prospect_id WHERE p.email = :email"
                    ),
                    {"email": email, "at": store_rows.naive(at)},
                ).one()
                halted += row[0] == "halted"
                late += row[1]
        seconds = (end - start).total_seconds()
        return {
            "replies": summary(out["latencies_ms"]),
            "reply_errors": out["errors"][:5],
            "delivered_during_replies": delivered,
            "delivery_rate_during_replies": (delivered or 0) / seconds,
            "replies_halted": halted,
            "touches_started_after_reply": late,
            "longest_lock_waits": waits.longest(),
            "statements_per_reply": {
                k: {"count": v / args.replies, "ms": 1000 * counter.seconds[k] / args.replies}
                for k, v in counter.count.most_common()
            },
        }

    with servers.redis_server() as redis_url, scratch.workdir("halt-logs") as logdir:
        run = run_cadence(
            redis_url, args.touches, processes=args.processes, threads=args.threads,
            logdir=logdir, during=during, pace=args.pace,
        )  # fmt: skip
    results["loaded"] = {k: v for k, v in run.items() if k != "rss"}
    r = run["replies"]
    print(
        f"under load: reply → halted p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max "
        f"{r['max_ms']:.1f} ms ({r['count']} replies at {args.reply_rate:g}/s; target p99 ≤ 100 "
        f"ms); ratio to idle p99 ×{r['p99_ms'] / idle['p99_ms']:.1f}"
    )
    print(
        f"  background delivery during the replies: {run['delivery_rate_during_replies']:.0f} "
        f"touches/s (offered: {f'{args.pace:,.0f}/s' if args.pace else 'all due at once'}; "
        f"target load 1,000/s); whole run {run['per_s']:.0f} touches/s"
    )
    busy = usage.machine_busy(run["cpu_ms_per_touch"], run["sent"], run["wall_s"])
    results["loaded"]["cpu_busy_fraction"] = busy
    print(
        f"  CPU of every process a touch: {usage.cpu_ms_all_processes(run['cpu_ms_per_touch']):.2f}"
        f" ms; over the run's {run['wall_s']:.1f} s the {usage.cores()} cores were "
        f"{100 * busy:.0f}% busy"
    )
    if args.pace and run["delivery_rate_during_replies"] < 0.95 * args.pace:
        print(
            "  delivery fell behind the offered pace: a backlog formed, and the replies met "
            "a saturated machine"
        )
    print(
        f"  {run['replies_halted']} of {r['count']} replied enrollments halted; touches started "
        f"after their prospect's reply: {run['touches_started_after_reply']} (must be 0)"
    )
    print("  where a reply's time goes (statements per reply, ms per reply inside execute):")
    for key, v in sorted(run["statements_per_reply"].items(), key=lambda kv: -kv[1]["ms"]):
        print(f"    {v['count']:4.1f}  {v['ms']:7.2f} ms  {key}")
    print(
        "  longest waits of a reply for an enrollment lock (sampled every 10 ms), and the holder:"
    )
    for w in run["longest_lock_waits"]:
        print(
            f"    {w['waited_ms']:7.1f} ms  holder {w['holder_state']}, transaction "
            f"{w['holder_xact_ms']:.0f} ms old, waiting on {w['holder_wait'] or 'nothing'}: "
            f"{w['holder_statement']}"
        )
    if run["reply_errors"]:
        print("  errors:", run["reply_errors"])
    output.emit_json("reply_to_halt", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
