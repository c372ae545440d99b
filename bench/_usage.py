"""What the processes of a run use, read from /proc: CPU seconds by role, peak RSS, and how
busy the cores were."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


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


def cpu_seconds_by_role(roles: dict[int, str]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process on the machine, summed by
    role: the pids in ``roles`` by their given role, PostgreSQL backends and redis-server by
    name, everything else as "other" (the other work on a shared machine). The system part
    of each role is also given alone as "ROLE.kernel": creating files right after many
    deletions costs ext4 kernel time, which would otherwise move the workers' total from
    run to run unseen."""
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
