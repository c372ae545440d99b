"""Running the engine: ``run`` (all in one process), ``scheduler`` (Procfile) and ``demo``.

The worker modules are imported inside the commands, so the other commands start without
loading dramatiq.
"""

import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cadence.cli.console import err_console, handle_errors, print_json
from cadence.cli.context import app_context
from cadence.cli.options import JsonFlag, parse_instant
from cadence.core.clock import SimulatedClock
from cadence.core.errors import InputError


def run(
    simulate: Annotated[
        bool, typer.Option(help="Drive a simulated clock instead of real time.")
    ] = False,
    until: Annotated[str | None, typer.Option(help="With --simulate: stop at this time.")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="With --simulate: start here.")
    ] = None,
) -> None:
    """Scheduler and workers in one process (embedded broker, or Redis when configured)."""
    from workers.embedded import EmbeddedEngine

    if simulate and until is None:
        raise typer.BadParameter("--simulate needs --until ISO_DATETIME", param_hint="--until")
    if not simulate and (until or start):
        raise typer.BadParameter("--until and --from go with --simulate")
    if not simulate:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
        with app_context() as ctx, EmbeddedEngine(ctx) as engine:
            err_console.print("running scheduler and workers; Ctrl-C or SIGTERM to stop")
            try:
                engine.run_forever(ctx.settings.scheduler_interval_seconds, stop)
            except KeyboardInterrupt:
                pass
            err_console.print("stopping: finishing the touches already claimed")
            engine.drain()
        return
    begin = parse_instant(start, "--from") or datetime.now(UTC)
    end = parse_instant(until, "--until")
    assert end is not None
    if end < begin:
        raise typer.BadParameter("--until is before the start", param_hint="--until")
    clock = SimulatedClock(begin)
    # Simulated time must never reach real prospects: the in-process broker (production
    # workers on a shared Redis would pick the messages up) and the file outbox, always.
    with app_context(clock, simulation=True) as ctx, EmbeddedEngine(ctx) as engine:
        total = engine.simulate(clock, end)
    err_console.print(f"simulated {begin.isoformat()} → {end.isoformat()}: {total} touches run")


def scheduler() -> None:
    """The scheduler process alone (Procfile): claims due touches and enqueues them on Redis."""
    from workers.scheduler import run_scheduler

    with app_context() as ctx:
        if not ctx.settings.redis_url:
            raise InputError("the scheduler process needs CADENCE_REDIS_URL; use `cadence run`")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
        run_scheduler(ctx, stop)


def demo(
    prospects: Annotated[int, typer.Option("--prospects", min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    as_json: JsonFlag = False,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", help="Folder to create (default: a new temp dir).")
    ] = None,
) -> None:
    """The whole engine in one process on a simulated clock, in a fresh workspace."""
    from cadence.demo.run import run_demo

    with handle_errors():
        summary = run_demo(prospects=prospects, seed=seed, workspace=workspace, quiet=as_json)
    if as_json:
        print_json(summary)
