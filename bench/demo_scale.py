"""Wall time of ``cadence demo --prospects N --json`` (embedded: SQLite, in-process broker,
file outbox, simulated 12 weeks) for N = 200, 1000 and 10000, and a py-spy profile (all
threads, so the worker thread's delivery is included) of N = 1000.

    python bench/demo_scale.py [--sizes 200,1000,10000] [--timeout 900] [--no-profile]

Target: 10,000 prospects under a minute. The baseline is the N = 200 run: seconds per
prospect at each size against it show whether the cost grows faster than the prospects.
A run that hits the timeout reports how far the simulation got (touches sent, simulated date).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _output as output
import _processes as procs
import _profiles as profiles
import _scratch as scratch


def reached(workspace: Path) -> dict[str, Any]:
    db = workspace / "cadence.db"
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        sent, last = conn.execute(
            "SELECT count(*), max(sent_at) FROM touch WHERE status = 'sent'"
        ).fetchone()
        total = conn.execute("SELECT count(*) FROM touch").fetchone()[0]
    finally:
        conn.close()
    return {"touches_sent": sent, "touches_total": total, "simulated_until": last}


def run_demo(n: int, timeout: float, profile: Path | None = None) -> dict[str, Any]:
    workspace = Path(tempfile.mkdtemp(prefix=f"cadence-bench-demo-{n}-")) / "ws"
    volume = scratch.settle_file_creation(workspace.parent)  # the demo wants an empty workspace
    argv = [str(procs.BIN / "cadence"), "demo", "--prospects", str(n), "--json",
            "--workspace", str(workspace)]  # fmt: skip
    if profile is not None:
        argv = [str(procs.BIN / "py-spy"), "record", "--format", "raw", "--output", str(profile),
                "--rate", "50", "--subprocesses", "--", *argv]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(procs.REPO)
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        wall = time.perf_counter() - started
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        wall = time.perf_counter() - started
        timed_out = True
    result: dict[str, Any] = {"prospects": n, "wall_s": wall, "timed_out": timed_out, **volume}
    if not timed_out and proc.returncode == 0:
        text = out.decode()
        summary, _ = json.JSONDecoder().raw_decode(text[text.index("{") :])
        result["elapsed_seconds_reported"] = summary.get("elapsed_seconds")
        result["summary"] = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
    elif not timed_out:
        result["error"] = err.decode(errors="replace")[-2000:]
    result.update(reached(workspace))
    scratch.discard(workspace.parent)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="200,1000,10000")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--profile-size", type=int, default=1000)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": output.machine(), "runs": []}
    # The target is a wall time, so say how fast this machine's CPU is in this run (the same
    # reference bench/per_touch.py prints): runs are comparable only at a similar reference.
    from per_touch import stage_baselines

    reference = stage_baselines()["bare_jinja_compiled_render_per_s"]
    results["cpu_reference_renders_per_s"] = reference
    print(f"CPU reference in this run: {reference:,.0f} compiled Jinja sandbox renders/s")
    base = None
    for n in [int(x) for x in args.sizes.split(",")]:
        output.log(f"demo --prospects {n}")
        r = run_demo(n, args.timeout)
        results["runs"].append(r)
        per = r["wall_s"] / n
        base = base or per
        state = (
            f"TIMED OUT after {args.timeout:.0f}s, reached {r.get('touches_sent')} touches sent "
            f"(simulated until {r.get('simulated_until')})"
            if r["timed_out"]
            else f"{r['wall_s']:.1f}s wall, {r.get('touches_sent')} touches sent (a new file "
            f"cost {r['file_creation_cpu_us']:.0f} µs of CPU at the start)"
        )
        if r.get("error"):
            state = "FAILED: " + r["error"][-300:]
        print(
            f"demo --prospects {n:>6}: {state}; {1000 * per:.1f} ms per prospect "
            f"(×{per / base:.2f} of the first size)"
        )
    if not args.no_profile:
        with scratch.workdir("demo-profile") as tmp:
            path = tmp / "demo.collapsed"
            output.log(f"profiling demo --prospects {args.profile_size} with py-spy")
            r = run_demo(args.profile_size, args.timeout, profile=path)
            results["profile_run"] = r
            print(f"\npy-spy profile of demo --prospects {args.profile_size} ({r['wall_s']:.1f}s "
                  "under the profiler), all threads:")  # fmt: skip
            if path.exists():
                profiles.print_profile(
                    profiles.read_collapsed(path), top=30, include=r"cadence/|workers/"
                )
            else:
                print("  (no profile written)")
    output.emit_json("demo_scale", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
