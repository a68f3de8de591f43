"""The garbage collector of a served worker: start-up objects frozen, young objects collected less often.

``monitoring.server.gc_freeze``:
A served process holds hundreds of thousands of long-lived objects after start-up (modules,
pydantic models, the app, an SDK with LiteLLM). CPython's full (generation 2) collections,
which steady request traffic triggers every few seconds, walk all of them: under load that
paused the event loop for 50-230 ms at a time on the benchmark machine (see the README's
performance section). ``gc.freeze()`` moves the objects alive at that moment to a permanent
generation the collector never walks; objects made later are collected as before. Frozen
objects that later become cyclic garbage are not reclaimed: start-up objects live as long as
the process, so that costs nothing in practice (the CPython documentation recommends it for
servers; see ``gc.freeze``).

``monitoring.server.gc_threshold``: CPython collects its youngest generation every 700 net
allocations of tracked objects, which a server's requests reach every few dozen requests:
under load those collections took about 4 % of a worker's CPU on the benchmark machine. A
threshold of 7000 collects ten times less often; what a young collection walks is what is
alive then (the requests in flight), so each costs about the same, and cyclic garbage waits
a little longer to be reclaimed (a few MB at most).
"""

from __future__ import annotations

import asyncio
import gc

#: seconds after the lifespan start-up: the app's own start-up (which runs after the plugins')
#: has usually finished by then; anything it makes later is collected as usual
FREEZE_DELAY_S = 1.0


def freeze_soon(loop: asyncio.AbstractEventLoop, delay: float = FREEZE_DELAY_S) -> asyncio.TimerHandle:
    """Collect once, then freeze what is left, ``delay`` seconds from now."""
    return loop.call_later(delay, freeze_now)


def set_young_threshold(threshold: int) -> None:
    """Collect the youngest generation every ``threshold`` net allocations (the older two unchanged)."""
    gc.set_threshold(threshold, *gc.get_threshold()[1:])


def freeze_now() -> int:
    """Collect, then freeze every object alive; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    import os

    if os.environ.get("X_GC0"):
        gc.set_threshold(int(os.environ["X_GC0"]), 10, 10)
    return gc.get_freeze_count()
