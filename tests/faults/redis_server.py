"""A private ``redis-server`` per test, on a free loopback port, that the test can stop and start
again on the same port. It keeps nothing on disk, so a restart loses every queued message —
the shared Redis on 6379 is never touched."""

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis


class RedisServer:
    def __init__(self, port: int, log_file: Path) -> None:
        self.port = port
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None

    def start(self, timeout: float = 15.0) -> None:
        assert self._process is None, "redis-server already running"
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; the fault tests need it", pytrace=False)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(
                            f"redis-server on port {self.port} did not start; see {self.log_file}",
                            pytrace=False,
                        )
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait: with nothing saved, the next start begins empty."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)
