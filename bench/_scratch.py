"""Scratch folders for a run, removed only when the script exits, and a wait for a volume on
which a new file costs its usual CPU.

On an ext4 volume without a journal, as the benchmark machine's is, the inode allocator
steps over every recently freed inode each time it allocates one (``find_inode_bit`` →
``recently_deleted``, seen with ``perf``): for minutes after many files are deleted, each new
file costs many times its usual CPU. A benchmark that writes one file a touch would charge
that to Cadence; bench/README.md gives the figures.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _output import log

#: Folders to remove when the script exits (see :func:`discard`).
_DISCARDED: list[Path] = []

#: CPU a new file may cost for the volume to count as quiet: what it costs when no files
#: were deleted lately, with a little margin; a run started above it pays more kernel time
#: a touch.
SETTLED_FILE_CREATION_US = 30.0


@contextlib.contextmanager
def workdir(tag: str) -> Iterator[Path]:
    """A new folder ``cadence-bench-TAG-*``, discarded (not removed) when done."""
    root = Path(tempfile.mkdtemp(prefix=f"cadence-bench-{tag}-"))
    try:
        yield root
    finally:
        discard(root)


def discard(path: Path) -> None:
    """Remove ``path`` when the script exits, not now: deleting thousands of files makes
    each new file cost far more CPU for a while, so a run that followed another's cleanup
    (the 10,000-prospect demo after the 1,000 one, the SMTP run after the outbox one) would
    be charged for it. ``BENCH_KEEP`` keeps every folder."""
    if os.environ.get("BENCH_KEEP"):
        return
    if not _DISCARDED:
        atexit.register(_remove_discarded)
    _DISCARDED.append(path)


def _remove_discarded() -> None:
    for path in _DISCARDED:
        shutil.rmtree(path, ignore_errors=True)


def settle_file_creation(folder: Path, *, timeout: float = 240.0) -> dict[str, float]:
    """Wait, about ``timeout`` seconds at most, until creating a file in ``folder`` (made if
    missing) costs what it does on a quiet volume, and say what it cost: the figure a
    file-outbox run starts from. Give the folder the run writes into: ext4 allocates a
    file's inode in its folder's block group, and another folder's may be quiet sooner.
    The probe files (``.probe-*``) stay until the folder is discarded: deleting them would
    cause what this waits out."""
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
