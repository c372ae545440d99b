"""The processes a benchmark starts (workers, the scheduler, the SMTP sink), each logging to
a file and stopped by its own pid, and where their programs are."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
#: The virtualenv's scripts (``dramatiq``, ``cadence``, ``py-spy``): the interpreter's folder.
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something true, and return that; raises TimeoutError
    naming ``what`` after ``timeout`` seconds, so a stuck phase ends the run."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Proc:
    """A background process with its output in a log file, stopped by its own pid."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


def start(name: str, argv: Sequence[str], env: dict[str, str], logdir: Path) -> Proc:
    """``argv`` in the repository, with ``env`` over this process's, logging to
    ``logdir/NAME.log``."""
    path = logdir / f"{name}.log"
    handle = path.open("wb")
    full_env = {**os.environ, **env}
    popen = subprocess.Popen(
        list(argv), env=full_env, stdout=handle, stderr=subprocess.STDOUT, cwd=str(REPO)
    )
    return Proc(name, popen, path)


def start_workers(
    module: str, env: dict[str, str], logdir: Path, *, processes: int, threads: int,
    extra: Sequence[str] = (), wait: bool = True,
) -> Proc:  # fmt: skip
    """``dramatiq MODULE --processes P --threads T``; returns once every process is ready
    (at once with ``wait=False``)."""
    argv = [str(BIN / "dramatiq"), module, *extra, "--processes", str(processes)]
    argv += ["--threads", str(threads)]
    proc = start(f"workers-{module.replace('.', '_')}", argv, env, logdir)

    def ready() -> bool:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"workers exited:\n{proc.text()[-3000:]}")
        return proc.text().count("ready for action") >= processes

    if wait:
        wait_for(ready, timeout=120, what=f"{processes} dramatiq worker processes")
    return proc
