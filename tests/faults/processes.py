"""The processes under test, started as the Procfile starts them: each in its own process
group, so a worker's ``dramatiq`` parent and its children are signalled (or killed) together."""

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


class Proc:
    """One OS process group running a command; output goes to ``log``."""

    def __init__(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.log = log
        #: Set once the test stops the process on purpose; until then, an exit is a failure.
        self.stopped = False
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for a clean exit; fails the test if it does not come in time."""
        self.stopped = True
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(
                f"{self.name} did not exit within {timeout}s of SIGTERM\n{tail(self.log)}",
                pytrace=False,
            )

    def kill(self) -> int:
        """SIGKILL the whole group: the process and its children die mid-work."""
        self.stopped = True
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.popen.wait(30)

    def reap_group(self) -> None:
        """After the leader exited, make sure no child of the group survives it."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_cli(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``cadence ARGS`` to completion; a non-zero exit fails the test with its output."""
    done = subprocess.run(
        [str(BIN / "cadence"), *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"cadence {' '.join(args)} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}",
            pytrace=False,
        )
    return done
