"""Keep the garbage collector off the objects a worker starts with (``monitoring.server.gc_freeze``).

A served process holds hundreds of thousands of long-lived objects after start-up (modules,
pydantic models, the app, an SDK with LiteLLM). CPython's full (generation 2) collections,
which steady request traffic triggers every few seconds, walk all of them: under load that
paused the event loop for 50-230 ms at a time on the benchmark machine (see the README's
performance section). ``gc.freeze()`` moves the objects alive at that moment to a permanent
generation the collector never walks; objects made later are collected as before. Frozen
objects that later become cyclic garbage are not reclaimed: start-up objects live as long as
the process, so that costs nothing in practice (the CPython documentation recommends it for
servers; see ``gc.freeze``).
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


def freeze_now() -> int:
    """Collect, then freeze every object alive; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
