"""Peak RSS (VmHWM from /proc/<pid>/status) of each dramatiq worker process and of the
scheduler during the end-to-end run, at N and 2N touches: memory must not grow with the number
of touches sent.

    python bench/memory.py [--touches 10000]

Each size runs in fresh processes (VmHWM is a process's lifetime peak), file outbox, Redis and
PostgreSQL, 2 processes × 8 threads. The baseline is the run at N: the ratio 2N/N should be ~1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import _output as output
import _scratch as scratch
import _servers as servers
from end_to_end import run_cadence


def mib(kb: int | None) -> float:
    return (kb or 0) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--touches", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": output.machine(), "runs": []}
    with servers.redis_server() as redis_url, scratch.workdir("memory-logs") as logdir:
        for n in (args.touches, 2 * args.touches):
            output.log(f"memory: {n} touches")
            # Peak RSS does not depend on what a new file costs: no wait for a quiet volume.
            run = run_cadence(
                redis_url, n, processes=args.processes, threads=args.threads, logdir=logdir,
                quiet_volume=False,
            )  # fmt: skip
            rss = run["rss"]
            row = {
                "touches": n,
                "sent": run["sent"],
                "per_s": run["per_s"],
                "first_tenth_per_s": run.get("first_tenth_per_s"),
                "last_tenth_per_s": run.get("last_tenth_per_s"),
                "worker_peak_mib": [mib(k) for k in rss["worker_kb"]],
                "worker_master_peak_mib": mib(rss["worker_master_kb"]),
                "scheduler_peak_mib": mib(rss["scheduler_kb"]),
            }
            results["runs"].append(row)
            print(
                f"{n:>7,} touches ({run['sent']} sent, {run['per_s']:.0f}/s): peak RSS workers "
                f"{', '.join(f'{m:.1f}' for m in row['worker_peak_mib'])} MiB, worker master "
                f"{row['worker_master_peak_mib']:.1f} MiB, "
                f"scheduler {row['scheduler_peak_mib']:.1f} MiB"
            )
            if row["first_tenth_per_s"] is not None:  # none under 100 touches
                print(
                    f"  delivery rate over the first tenth {row['first_tenth_per_s']:.0f}/s, "
                    f"over the last tenth {row['last_tenth_per_s']:.0f}/s"
                )
    small, big = results["runs"]
    worker_ratio = max(big["worker_peak_mib"]) / max(small["worker_peak_mib"])
    sched_ratio = big["scheduler_peak_mib"] / small["scheduler_peak_mib"]
    results["ratio_2n_over_n"] = {"worker": worker_ratio, "scheduler": sched_ratio}
    print(
        f"2N/N peak RSS: worker ×{worker_ratio:.3f}, scheduler ×{sched_ratio:.3f} "
        "(flat is ×1.00; growth with touches sent would show here)"
    )
    output.emit_json("memory", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
