"""Milliseconds to find and claim a batch of 1,000 due touches on PostgreSQL as active
enrollments grow: 10,000, 100,000, 1,000,000 (target ≤ 50 ms at 1,000,000).

    python bench/scheduler_tick.py [--levels 10000,100000,1000000] [--repeat 5]

Each enrollment has step 1 sent (history) and step 2 scheduled, due over the next 30 days; at
each level 1,000 random step-2 touches are made due now. ``claim_due`` runs with limit 1,000
(the claim: SELECT … FOR UPDATE SKIP LOCKED, then UPDATE), rolled back and repeated; then one
whole ``scheduler_tick`` (with its sweeps and commits) runs with a batch of 1,000. The
EXPLAIN (ANALYZE, BUFFERS) of the captured claim statements shows which indexes they use.
The baseline is the same claim at the smallest level: the ratio shows whether cost stays flat.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import _bench_config as bench_config
import _output as output
import _scratch as scratch
import _servers as servers
import _store_rows as store_rows


def load_level(engine: Any, start: int, stop: int, now: datetime, rng: random.Random) -> None:
    ids = range(start, stop)
    store_rows.copy_rows(
        engine, "prospect", store_rows.PROSPECT_COLS, store_rows.prospect_rows(ids, now)
    )
    store_rows.copy_rows(
        engine, "enrollment", store_rows.ENROLLMENT_COLS, store_rows.enrollment_rows(ids, now)
    )
    past = store_rows.naive(now - timedelta(days=3))
    future = store_rows.naive(now)

    def touches() -> Any:
        for i in ids:
            yield (
                2 * i - 1, i, i, 1, "email", "ceo/intro", "sent", past, past, past,
                f"<cadence.{2 * i - 1}.bench@brightwave.example>", "subject", "body", 1, 1,
            )  # fmt: skip
            yield (
                2 * i, i, i, 2, "email", "checkin/last", "scheduled",
                future + timedelta(seconds=rng.randint(3600, 30 * 86400)),
                None, None, None, None, None, 0, 0,
            )  # fmt: skip

    store_rows.copy_rows(engine, "touch", store_rows.TOUCH_COLS, touches())
    store_rows.setval(engine, "prospect", "enrollment", "touch")
    store_rows.analyze(engine)


def make_due(engine: Any, touch_ids: list[int], now: datetime) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE touch SET due_at = :due - (id % 600) * interval '1 second', "
                "status = 'scheduled', queued_at = NULL, enqueues = 0 WHERE id = ANY(:ids)"
            ),
            {"due": store_rows.naive(now), "ids": touch_ids},
        )


def push_back(engine: Any, touch_ids: list[int], now: datetime) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE touch SET due_at = :later, status = 'scheduled', queued_at = NULL, "
                "enqueues = 0 WHERE id = ANY(:ids)"
            ),
            {"later": store_rows.naive(now + timedelta(days=40)), "ids": touch_ids},
        )


class Capture:
    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.statements: list[tuple[str, Any]] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *a: Any) -> None:
        if self.on:
            self.statements.append((statement, params))


def measure(ctx: Any, capture: Capture, now: datetime, repeat: int) -> dict[str, Any]:
    from sqlmodel import Session

    from cadence.scheduler.due_touches import claim_due

    times = []
    claimed = 0
    capture.statements.clear()
    for rep in range(repeat):
        capture.on = rep == 0
        with Session(ctx.engine) as session:
            started = time.perf_counter()
            ids = claim_due(session, now=now, limit=1000, skip_locked=True)
            times.append(1000 * (time.perf_counter() - started))
            session.rollback()
        capture.on = False
        claimed = len(ids)
    statements = list(capture.statements)
    plans = []
    with ctx.engine.connect() as conn:
        for statement, params in statements:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).all()
            plans.append((statement, "\n".join(r[0] for r in rows)))
        conn.rollback()
    return {
        "claimed": claimed,
        "claim_ms_median": statistics.median(times),
        "claim_ms_all": times,
        "plans": plans,
    }


def whole_tick(ctx: Any, now_ids: list[int]) -> tuple[float, int]:
    from cadence.scheduler.tick import scheduler_tick

    enqueued: list[int] = []
    started = time.perf_counter()
    total = scheduler_tick(ctx, enqueued.extend)
    return 1000 * (time.perf_counter() - started), total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    rng = random.Random(7)
    results: dict[str, Any] = {
        "machine": output.machine(),
        "postgresql": servers.pg_version(),
        "levels": [],
    }
    from cadence.runtime.store_setup import init_store

    with servers.pg_schema("tick") as db_url, scratch.workdir("tick") as root:
        env = bench_config.cadence_env(database_url=db_url, redis_url=None, root=root)
        ctx = bench_config.context_from_env(env)
        ctx.settings = ctx.settings.model_copy(update={"claim_batch_size": 1000})
        capture = Capture(ctx.engine)
        try:
            init_store(ctx)
            whole_tick(ctx, [])  # warm-up: compile the sweeps' statements once
            loaded = 0
            previous: list[int] = []
            for level in levels:
                now = datetime.now(UTC)
                started = time.perf_counter()
                load_level(ctx.engine, loaded + 1, level + 1, now, rng)
                loaded = level
                output.log(f"loaded to {level} enrollments in {time.perf_counter() - started:.0f}s")
                if previous:
                    push_back(ctx.engine, previous, now)
                due = [2 * i for i in rng.sample(range(1, level + 1), 1000)]
                make_due(ctx.engine, due, now)
                store_rows.analyze(ctx.engine)
                m = measure(ctx, capture, now, args.repeat)
                tick_ms, ticked = whole_tick(ctx, due)
                previous = due
                uses = [
                    "ix_touch_status_due" in plan for stmt, plan in m["plans"]
                    if stmt.lstrip().upper().startswith(("SELECT", "UPDATE"))
                ]  # fmt: skip
                row = {
                    "enrollments": level,
                    "touches": 2 * level,
                    "claimed": m["claimed"],
                    "claim_ms_median": m["claim_ms_median"],
                    "claim_ms_all": m["claim_ms_all"],
                    "scheduler_tick_ms": tick_ms,
                    "scheduler_tick_claimed": ticked,
                    "claim_uses_ix_touch_status_due": all(uses) if uses else None,
                    "plans": m["plans"],
                }
                results["levels"].append(row)
                print(
                    f"{level:>9,} active enrollments ({2 * level:,} touches): claim of "
                    f"{m['claimed']} due touches {m['claim_ms_median']:.1f} ms (median of "
                    f"{args.repeat}: {', '.join(f'{t:.1f}' for t in m['claim_ms_all'])}); whole "
                    f"scheduler_tick {tick_ms:.1f} ms for {ticked}; SELECT uses "
                    f"ix_touch_status_due: {row['claim_uses_ix_touch_status_due']}"
                )
                for statement, plan in m["plans"]:
                    print("  statement: " + " ".join(statement.split())[:300])
                    plan = re.sub(r"'\{[^}]{60,}\}'", "'{…1,000 ids…}'", plan)
                    print("    " + plan.replace("\n", "\n    "))
        finally:
            ctx.close()
    base = results["levels"][0]["claim_ms_median"]
    print("\nsummary (target ≤ 50 ms per 1,000 due touches at 1,000,000 enrollments):")
    for row in results["levels"]:
        print(
            f"  {row['enrollments']:>9,}: claim {row['claim_ms_median']:6.1f} ms "
            f"(×{row['claim_ms_median'] / base:.2f} of the {results['levels'][0]['enrollments']:,} "
            f"level), whole tick {row['scheduler_tick_ms']:6.1f} ms"
        )
    output.emit_json("scheduler_tick", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
