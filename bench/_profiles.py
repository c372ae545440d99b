"""py-spy profiles of running processes: recording one, and summarising its collapsed stacks
per function, inclusive and self."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _processes import BIN, REPO

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")


@dataclass
class Profile:
    samples: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)
    own: Counter[str] = field(default_factory=Counter)


def short_path(file: str) -> str:
    """``file`` from its package or the repository down: the part that names it."""
    for marker in ("site-packages/", "/lib/python3.11/", f"{REPO}/"):
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
                names.append(f"{match['func']} ({short_path(match['file'])})")
        if not names:
            continue
        profile.samples += count
        for name in set(names):
            profile.inclusive[name] += count
        profile.own[names[-1]] += count
    return profile


def print_profile(profile: Profile, *, top: int = 25, include: str = "") -> None:
    """The ``top`` functions by inclusive share (those matching ``include``), then by self."""
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
