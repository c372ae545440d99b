"""End to end on Redis and PostgreSQL: claim → enqueue → render → record → deliver.

    python bench/end_to_end.py [--touches 20000] [--processes 2] [--threads 8] [--profile 20]

N touches of a 24/7 cadence are bulk-loaded, all due now. ``dramatiq workers.main`` (as the
Procfile runs it) and ``cadence scheduler`` run as subprocesses; touches/s is measured from the
first claim (min queued_at) to the last ``sent`` row (max sent_at). In the same run:

* dramatiq's own ceiling: a no-op actor (bench/noop_actor.py) on the same Redis with the same
  processes and threads, N messages enqueued while the workers run, timed until drained;
* the file outbox (CADENCE_OUTBOX_DIR in a temp dir) against that no-op rate (target ≥ 40%);
* SMTP into an aiosmtpd sink in its own process against a bare smtplib loop over one persistent
  connection into the same sink (target ≥ 80%).

Also prints the peak RSS (VmHWM) of each worker process and of the scheduler.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _bench_config as bench_config
import _output as output
import _processes as procs
import _profiles as profiles
import _scratch as scratch
import _servers as servers
import _store_rows as store_rows
import _usage as usage
from _smtp_baseline import bare_smtp, sink_count, start_sink


def run_noop(
    redis_url: str, n: int, *, processes: int, threads: int, logdir: Path
) -> dict[str, Any]:
    """dramatiq's own processing rate: ``n`` no-op messages are enqueued first, then the
    workers start on the full queue, and the rate is taken over the middle 80% of it (from
    9/10 of the messages left to 1/10), so neither worker start-up nor one process's
    enqueuing caps it: one process enqueuing while the workers run can be slower than they
    are."""
    import os

    import redis

    servers.flush_redis(redis_url)
    os.environ["BENCH_NOOP_REDIS_URL"] = redis_url
    env = {"BENCH_NOOP_REDIS_URL": redis_url}
    import noop_actor

    client = redis.Redis.from_url(redis_url)
    msgs = f"dramatiq:{noop_actor.QUEUE}.msgs"
    me = {os.getpid(): "enqueuer"}
    cpu_before = usage.cpu_seconds_by_role(me)
    started = time.perf_counter()
    for i in range(n):
        noop_actor.noop.send(i)
    enqueued = time.perf_counter() - started
    enqueue_cpu = usage.cpu_ms_per_item(cpu_before, usage.cpu_seconds_by_role(me), n)
    workers = procs.start_workers(
        "noop_actor", env, logdir, processes=processes, threads=threads,
        extra=["--path", str(procs.BENCH_DIR)], wait=False,
    )  # fmt: skip
    try:
        roles: dict[int, str] = {}
        marks: dict[float, tuple[float, int, dict[str, float]]] = {}
        deadline = time.monotonic() + 600
        while len(marks) < 2:
            left = int(client.hlen(msgs))
            at = time.perf_counter()
            for share in (0.9, 0.1):
                if share not in marks and left <= share * n:
                    # The worker processes exist once any message has been taken.
                    roles = roles or {p: "workers" for p in usage.children(workers.popen.pid)}
                    roles[workers.popen.pid] = "workers"
                    roles[os.getpid()] = "bench"
                    marks[share] = (at, left, usage.cpu_seconds_by_role(roles))
                    break  # one mark a poll: the window never has zero length
            if workers.popen.poll() is not None:
                raise RuntimeError(f"no-op workers exited:\n{workers.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no-op queue still holds {left} of {n} messages")
            time.sleep(0.005)
        procs.wait_for(lambda: client.hlen(msgs) == 0, timeout=600, what="the no-op queue to drain")
    finally:
        workers.stop()
        client.close()
    (t0, left0, cpu0), (t1, left1, cpu1) = marks[0.9], marks[0.1]
    processed = left0 - left1
    return {
        "messages": n,
        "measured_messages": processed,
        "cpu_ms_per_message": usage.cpu_ms_per_item(cpu0, cpu1, processed),
        "enqueue_per_s": n / enqueued,
        "enqueue_cpu_ms_per_message": enqueue_cpu,
        "seconds": t1 - t0,
        "per_s": processed / (t1 - t0),
    }


def run_cadence(
    redis_url: str,
    n: int,
    *,
    processes: int,
    threads: int,
    logdir: Path,
    smtp_url: str | None = None,
    profile_seconds: float = 0,
    profile_gil: bool = False,
    timeout: float = 900,
    during: Any = None,
    pace: float = 0,
    sink_pid: int | None = None,
    quiet_volume: bool = True,
) -> dict[str, Any]:
    """One end-to-end run in a fresh schema; ``during(ctx, engine)`` runs while it delivers.
    With ``pace``, the touches fall due at that many a second once the workers are up,
    instead of all at once. With ``quiet_volume``, a file-outbox run first waits for new
    files to cost their usual CPU (:func:`_scratch.settle_file_creation`)."""
    from sqlalchemy import text

    from cadence.runtime.store_setup import init_store

    tag = "smtp" if smtp_url else "outbox"
    with servers.pg_schema(f"e2e_{tag}") as db_url, scratch.workdir(f"e2e-{tag}") as root:
        env = bench_config.cadence_env(
            database_url=db_url, redis_url=redis_url, root=root, smtp_url=smtp_url
        )
        ctx = bench_config.context_from_env(env)
        quiet = quiet_volume and not smtp_url
        volume = scratch.settle_file_creation(root / "outbox") if quiet else {}
        try:
            init_store(ctx)
            load_started = time.perf_counter()
            store_rows.load_due_touches(ctx.engine, n, datetime.now(UTC), per_second=pace)
            output.log(
                f"[{tag}] loaded {n} due touches in {time.perf_counter() - load_started:.1f}s"
            )
            servers.flush_redis(redis_url)
            workers = procs.start_workers(
                "workers.main", env, logdir, processes=processes, threads=threads
            )
            worker_pids = usage.children(workers.popen.pid)
            if pace:  # the paced load starts now that the workers are up, not during start-up
                with ctx.engine.begin() as conn:
                    first = conn.execute(text("SELECT min(due_at) FROM touch")).scalar_one()
                    shift = store_rows.naive(datetime.now(UTC) + timedelta(seconds=1)) - first
                    conn.execute(text("UPDATE touch SET due_at = due_at + :s"), {"s": shift})
            roles = {p: "workers" for p in [workers.popen.pid, *worker_pids]}
            roles[os.getpid()] = "bench"
            if sink_pid is not None:
                roles[sink_pid] = "sink"
            cpu_before = usage.cpu_seconds_by_role(roles)
            started = time.perf_counter()
            scheduler = procs.start(
                "scheduler", [str(procs.BIN / "cadence"), "scheduler"], env, logdir
            )
            roles[scheduler.popen.pid] = "scheduler"
            spy = None
            if profile_seconds and worker_pids:
                time.sleep(1.5)
                spy = profiles.py_spy_record(
                    worker_pids[0],
                    logdir / f"worker-{tag}.collapsed",
                    profile_seconds,
                    gil=profile_gil,
                )
            extra: dict[str, Any] = {}
            try:
                if during is not None:
                    extra = during(ctx, env)

                def done() -> bool:
                    if scheduler.popen.poll() is not None:
                        raise RuntimeError(f"scheduler exited:\n{scheduler.text()[-3000:]}")
                    with ctx.engine.connect() as conn:
                        left = conn.execute(
                            text(
                                "SELECT count(*) FROM touch WHERE step = 1 AND status IN "
                                "('scheduled', 'queued', 'sending')"
                            )
                        ).scalar()
                    return left == 0

                procs.wait_for(
                    done, timeout=timeout, what=f"{n} touches to be delivered", interval=0.25
                )
                wall = time.perf_counter() - started
                cpu_after = usage.cpu_seconds_by_role(roles)
                rss = {
                    "worker_kb": [usage.vm_kb(p) for p in worker_pids],
                    "worker_master_kb": usage.vm_kb(workers.popen.pid),
                    "scheduler_kb": usage.vm_kb(scheduler.popen.pid),
                }
            finally:
                scheduler.stop()
                workers.stop()
                if spy is not None:
                    try:
                        _, err = spy.communicate(timeout=profile_seconds + 30)
                        if spy.returncode:
                            output.log("py-spy:", err.decode(errors="replace")[-500:])
                    except subprocess.TimeoutExpired:
                        spy.kill()
            stats = store_rows.touch_stats(ctx.engine)
        finally:
            ctx.close()
    sent = stats["statuses"].get("sent", 0)
    span = (stats["last_sent"] - stats["first_claim"]).total_seconds()
    per_s = sent / span if span > 0 else float("nan")
    result = {
        "transport": tag,
        **volume,
        "touches": n,
        "sent": sent,
        "statuses": stats["statuses"],
        "first_claim_to_last_sent_s": span,
        "per_s": per_s,
        "wall_s": wall,
        # Under 100 touches there is no middle to speak of: the whole run's rate.
        "middle_80_per_s": stats.get("middle_80_per_s") or per_s,
        "first_tenth_per_s": stats.get("first_tenth_per_s"),
        "last_tenth_per_s": stats.get("last_tenth_per_s"),
        "rss": rss,
        "cpu_ms_per_touch": usage.cpu_ms_per_item(cpu_before, cpu_after, sent),
        **extra,
    }
    if spy is not None:
        result["profile"] = str(logdir / f"worker-{tag}.collapsed")
    bad = {k: v for k, v in stats["statuses"].items() if k != "sent"}
    if bad:
        output.log(f"[{tag}] touches not sent: {bad}; see {logdir}")
    return result


def smtp_budget(smtp: dict[str, Any], bare: dict[str, Any]) -> str:
    """Where the SMTP target's CPU goes: at 80% of the bare rate, the CPU a touch the
    machine's cores allow, against what Cadence's processes and the sink used (the sink's
    CPU counts against Cadence, as the bare loop's client's does not). Other processes on
    the machine are given apart: they take cores without being part of either."""
    cpu = smtp["cpu_ms_per_touch"]
    ours = ("workers", "scheduler", "postgres", "redis", "sink")
    total = sum(cpu.get(role, 0.0) for role in ours)
    cores = usage.cores()
    budget = 1000 * cores / (0.8 * bare["per_s"]) if bare["per_s"] else float("nan")
    sink_bare = bare["cpu_ms_per_message"].get("sink", 0.0)
    return (
        f"CPU a touch: {total:.2f} ms by Cadence's processes and the sink, of which the sink "
        f"{cpu.get('sink', 0):.2f} (in the bare loop {sink_bare:.2f} a message), and "
        f"{cpu.get('other', 0) + cpu.get('bench', 0):.2f} by other processes; "
        f"{cores} cores at 80% of the bare rate allow {budget:.2f} ms"
    )


def rss_line(rss: dict[str, Any]) -> str:
    workers = ", ".join(f"{(k or 0) / 1024:.0f}" for k in rss["worker_kb"])
    master = (rss["worker_master_kb"] or 0) / 1024
    return (
        f"peak RSS MiB: workers [{workers}], worker master {master:.0f}, "
        f"scheduler {(rss['scheduler_kb'] or 0) / 1024:.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--touches", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--skip-outbox", action="store_true")
    parser.add_argument("--skip-smtp", action="store_true")
    parser.add_argument("--profile", type=float, default=0, help="py-spy a worker for N seconds")
    parser.add_argument("--gil", action="store_true", help="profile only the GIL-holding thread")
    parser.add_argument("--timeout", type=float, default=900, help="per phase, seconds")
    args = parser.parse_args()
    n = args.touches
    results: dict[str, Any] = {
        "machine": output.machine(),
        "touches": n,
        "processes": args.processes,
        "threads": args.threads,
    }
    with servers.redis_server() as redis_url, scratch.workdir("e2e-logs") as logdir:
        results["redis"] = servers.redis_version(redis_url)
        results["postgresql"] = servers.pg_version()
        opts = {"processes": args.processes, "threads": args.threads, "logdir": logdir}
        output.log(f"no-op baseline: {n} messages, {args.processes}×{args.threads}")
        noop = run_noop(redis_url, n, **opts)
        results["noop"] = noop
        print(
            f"dramatiq no-op actor ({args.processes} processes × {args.threads} threads): "
            f"{noop['per_s']:.0f} messages/s processed from a full queue; one process "
            f"enqueues {noop['enqueue_per_s']:.0f}/s"
            f"\n  CPU ms per message by process: {noop['cpu_ms_per_message']}"
        )
        if not args.skip_outbox:
            output.log("cadence, file outbox")
            out = run_cadence(
                redis_url, n, smtp_url=None, profile_seconds=args.profile, profile_gil=args.gil,
                timeout=args.timeout, **opts,
            )  # fmt: skip
            # Like for like: both rates over the middle 80% of their items.
            out["ratio_to_noop"] = out["middle_80_per_s"] / noop["per_s"]
            results["outbox"] = out
            print(
                f"cadence end to end, file outbox: {out['sent']}/{n} sent, "
                f"{out['middle_80_per_s']:.0f} touches/s over the middle 80% = "
                f"{100 * out['ratio_to_noop']:.1f}% of the no-op rate (target ≥ 40%); "
                f"{out['per_s']:.0f} touches/s from first claim to last sent "
                f"({out['first_claim_to_last_sent_s']:.1f}s); a new file cost "
                f"{out['file_creation_cpu_us']:.0f} µs of CPU at the start"
            )
            if out["first_tenth_per_s"] is not None:  # none under 100 touches
                print(
                    f"  rate over the first tenth of the touches {out['first_tenth_per_s']:.0f}/s, "
                    f"over the last tenth {out['last_tenth_per_s']:.0f}/s"
                )
            print("  " + rss_line(out["rss"]))
            print(f"  CPU ms per touch by process: {out['cpu_ms_per_touch']}")
            if out.get("profile"):
                print(f"  py-spy profile of one worker ({args.profile:.0f}s):")
                profiles.print_profile(
                    profiles.read_collapsed(Path(out["profile"])), include=r"cadence/|workers/"
                )
        if not args.skip_smtp:
            sink, port, count_file = start_sink(logdir)
            try:
                output.log("bare smtplib loop into the sink")
                bare = bare_smtp(port, n, sink.popen.pid)
                results["smtp_bare"] = bare
                print(
                    f"bare smtplib, one persistent connection → aiosmtpd sink: "
                    f"{bare['per_s']:.0f} messages/s"
                )
                with_noop = bare_smtp(port, min(n, 5000), sink.popen.pid, noop=True)
                results["smtp_bare_with_noop"] = with_noop
                print(
                    f"  the same loop with a NOOP before each message (a liveness check "
                    f"before every send): {with_noop['per_s']:.0f} messages/s "
                    f"(×{with_noop['per_s'] / bare['per_s']:.2f})"
                )
                before = sink_count(count_file)
                output.log("cadence, SMTP into the same sink")
                smtp = run_cadence(
                    redis_url, n, smtp_url=f"smtp://127.0.0.1:{port}", timeout=args.timeout,
                    profile_seconds=args.profile, profile_gil=args.gil,
                    sink_pid=sink.popen.pid, **opts,
                )  # fmt: skip
                smtp["sink_received"] = sink_count(count_file) - before
                smtp["ratio_to_bare"] = smtp["per_s"] / bare["per_s"]
                # The machine's speed can move between the two measurements, within
                # minutes: the bare loop again, after.
                output.log("bare smtplib loop again, after")
                bare_after = bare_smtp(port, n, sink.popen.pid)
                results["smtp_bare_after"] = bare_after
                smtp["ratio_to_bare_after"] = smtp["per_s"] / bare_after["per_s"]
                results["smtp"] = smtp
                print(
                    f"cadence end to end, SMTP: {smtp['sent']}/{n} sent "
                    f"({smtp['sink_received']} received by the sink), {smtp['per_s']:.0f} "
                    f"touches/s = {100 * smtp['ratio_to_bare']:.1f}% of bare smtplib "
                    "(target ≥ 80%), "
                    f"{100 * smtp['per_s'] / noop['per_s']:.1f}% of the no-op rate"
                )
                print(
                    f"  bare smtplib again after it: {bare_after['per_s']:.0f} messages/s; "
                    f"against that, {100 * smtp['ratio_to_bare_after']:.1f}%"
                )
                print("  " + rss_line(smtp["rss"]))
                print(f"  CPU ms per touch by process: {smtp['cpu_ms_per_touch']}")
                print(f"  bare loop's CPU ms per message: {bare['cpu_ms_per_message']}")
                print("  " + smtp_budget(smtp, bare))
                if smtp.get("profile"):
                    print(f"  py-spy profile of one worker ({args.profile:.0f}s):")
                    profiles.print_profile(
                        profiles.read_collapsed(Path(smtp["profile"])), include=r"cadence/|workers/"
                    )
            finally:
                sink.stop()
    output.emit_json(f"end_to_end_{n}", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
