"""What a benchmark prints and keeps: progress on stderr, the machine and code a figure
belongs to, percentiles, and ``bench/results/<name>.json``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from _processes import BENCH_DIR, REPO


def log(*parts: object) -> None:
    """Progress on stderr, so stdout holds only the figures."""
    print(*parts, file=sys.stderr, flush=True)


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
    """The nearest-rank ``p``th percentile; NaN for no values."""
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
