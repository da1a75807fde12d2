"""``emusa-gateway simulate``: serve simulated meters until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from gateway.mapmodel import RegisterMap
from gateway.simulator.model import EVENT_KINDS, Event, PlantModel
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from gateway.stopping import stop_on_signals


def parse_scenario(text: str, now: float) -> Event:
    """``KIND[@START][+DURATION]``, seconds after ``now``; defaults: start 10 s, 60 s long.

    ``sag@30+20`` = a voltage sag 30 s from now for 20 s; ``silent`` = the meter stops
    answering 10 s from now for 60 s.
    """
    kind, start, duration = text, 10.0, 60.0
    if "+" in kind:
        kind, d = kind.split("+", 1)
        duration = float(d)
    if "@" in kind:
        kind, s = kind.split("@", 1)
        start = float(s)
    if kind not in EVENT_KINDS:
        raise ValueError(f"scenario {kind!r} unknown (one of {', '.join(EVENT_KINDS)})")
    return Event(kind, now + start, duration)


async def serve(
    regmap: RegisterMap,
    *,
    units: list[int],
    seed: int,
    events: tuple[Event, ...],
    tcp: tuple[str, int] | None,
    serial: dict[str, object] | None,
    pty: bool,
    duration: float | None,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.time,
) -> None:
    meters = [
        SimulatedMeter(unit, regmap, PlantModel(seed + i, events=events))
        for i, unit in enumerate(units)
    ]
    pair = None
    sim = MeterSimulator(meters, clock=clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = contextlib.ExitStack()
    signals.enter_context(stop_on_signals(loop, stop))  # Ctrl-C, Ctrl-Break, SIGTERM
    try:
        say(f"simulating {regmap.model}: units {units}, seed {seed}")
        for m in meters:
            if m.identifier is not None:
                say(f"unit {m.unit}: identifier {m.identifier}")
        for ev in events:
            say(
                f"scenario {ev.kind}: {time.strftime('%H:%M:%S', time.localtime(ev.start))} for {ev.duration:g} s"
            )
        if tcp is not None:
            host, port = await sim.start_tcp(*tcp)
            say(f"tcp {host}:{port}")
        if serial is not None:
            await sim.start_serial(**serial)  # type: ignore[arg-type]
            say(f"serial {serial['port']}")
        if pty:
            from gateway.simulator.ptypair import PtyPair  # noqa: PLC0415 - POSIX only

            pair = PtyPair()
            settings = {k: v for k, v in (serial or {}).items() if k != "port"}
            await sim.start_serial(pair.a, **settings)  # type: ignore[arg-type]
            say(f"pty {pair.b}")
        say("ready (Ctrl-C stops)")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        await sim.stop()
        if pair is not None:
            pair.close()
        signals.close()
