"""The demo's simulated weeks: the embedded engine jumps the clock from due time to due time,
and at each stop the prospects react and the SDRs work their tasks, behind a progress bar."""

from datetime import datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from cadence.core.clock import SimulatedClock
from cadence.demo.reactions import ProspectReactions
from cadence.demo.sdr_work import SdrTaskWork
from cadence.runtime.context import AppContext
from workers.embedded import EmbeddedEngine, SimulationStop

#: The scheduler's interval in the simulation: what falls due within it is handled together.
RESOLUTION = timedelta(minutes=5)


def simulate(
    ctx: AppContext,
    clock: SimulatedClock,
    until: datetime,
    *,
    reactions: ProspectReactions,
    sdrs: SdrTaskWork,
    console: Console,
) -> None:
    """Run the engine on one worker thread from ``clock``'s time to ``until``."""

    def at_stop(now: datetime) -> None:
        reactions.record_due(now)
        sdrs.work_due(now)

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[when]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    start = clock.now()
    with progress, EmbeddedEngine(ctx, worker_threads=1) as engine:
        bar = progress.add_task("simulating", total=(until - start).total_seconds(), when="")

        def on_progress(stop: SimulationStop) -> None:
            reactions.start_after(stop.at, stop.touch_ids)
            progress.update(
                bar,
                completed=(stop.at - start).total_seconds(),
                when=f"{stop.at:%a %d %b %H:%M} UTC",
            )

        engine.simulate(
            clock,
            until,
            extra_stops=reactions.next_at,
            at_stop=at_stop,
            on_progress=on_progress,
            resolution=RESOLUTION,
        )
