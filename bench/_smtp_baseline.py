"""The SMTP baseline: an aiosmtpd sink in its own process (``smtp_sink_proc.py``) and a bare
smtplib loop into it over one persistent connection, sending a message shaped like a touch.

What the sink receives is read from the count it writes to a file, since it runs apart.
"""

from __future__ import annotations

import os
import smtplib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _bench_config import PUBLIC_URL
from _processes import BENCH_DIR, Proc, free_port, start, wait_for
from _usage import cpu_ms_per_item, cpu_seconds_by_role


def sample_message() -> bytes:
    """A message shaped like a Cadence touch (same headers, similar body)."""
    from cadence.delivery.compose import OutgoingEmail, compose

    return compose(
        OutgoingEmail(
            touch_id=1, message_id="<cadence.1.0123456789abcdef@brightwave.example>",
            sender_name="Alex Bench", sender_email="alex@brightwave.example",
            recipient_name="Ana Bench", recipient_email="p1@co0.example",
            subject="Company 0 and Brightwave",
            body="Hi Ana,\n\nTeams like yours see 40% faster ramp: proof.\n\n"
            "Worth 15 minutes next week to see if it fits Company 0?\n\nAlex",
            date=datetime.now(UTC), unsubscribe_url=f"{PUBLIC_URL}/unsubscribe/t0000000001",
            unsubscribe_mailto="mailto:unsubscribe@brightwave.example?subject=unsubscribe%20t1",
        )
    ).as_bytes()  # fmt: skip


def bare_smtp(port: int, n: int, sink_pid: int, *, noop: bool = False) -> dict[str, Any]:
    """One persistent connection; ``noop`` adds a NOOP before each message: what checking
    a connection before every send would cost, which SmtpTransport skips for a connection
    used moments ago."""
    data = sample_message()
    roles = {sink_pid: "sink", os.getpid(): "bench"}
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        cpu_before = cpu_seconds_by_role(roles)
        started = time.perf_counter()
        for _ in range(n):
            if noop:
                client.noop()
            client.sendmail("alex@brightwave.example", ["p1@co0.example"], data)
        elapsed = time.perf_counter() - started
        cpu = cpu_ms_per_item(cpu_before, cpu_seconds_by_role(roles), n)
    return {"messages": n, "seconds": elapsed, "per_s": n / elapsed, "cpu_ms_per_message": cpu}


def start_sink(logdir: Path) -> tuple[Proc, int, Path]:
    """The sink on a free port, once it listens; with the file its count is written to."""
    port = free_port()
    count_file = logdir / "sink.count"
    sink = start(
        "smtp-sink",
        [sys.executable, str(BENCH_DIR / "smtp_sink_proc.py"), str(port), str(count_file)],
        {},
        logdir,
    )
    wait_for(lambda: "ready" in sink.text(), timeout=30, what="the SMTP sink")
    return sink, port, count_file


def sink_count(count_file: Path) -> int:
    """The sink's count about 0.3-0.5 s after the call (it writes it every 0.2 s). It
    rewrites the file in place, so a read can land between its truncation and its write:
    such a read is empty, and read again."""
    time.sleep(0.5)
    for _ in range(50):
        text = count_file.read_text()
        if text:
            return int(text)
        time.sleep(0.01)
    raise RuntimeError(f"{count_file} stayed empty")
