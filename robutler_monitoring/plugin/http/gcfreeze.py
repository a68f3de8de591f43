"""The garbage collector of a served worker: start-up objects frozen, young objects collected less often.

``monitoring.server.gc_freeze``:
A served process holds hundreds of thousands of long-lived objects after start-up (modules,
pydantic models, the app, an SDK with LiteLLM). CPython's full (generation 2) collections,
which steady request traffic triggers every few seconds, walk all of them: under load that
paused the event loop for 50-230 ms at a time on the benchmark machine (see the README's
performance section). ``gc.freeze()`` moves the objects alive at that moment to a permanent
generation the collector never walks; objects made later are collected as before. It runs
when the app's own start-up has finished, before the worker takes its first request (the
host's ``robutler_ready``), so the one full collection before it (~50 ms with an SDK
loaded) never pauses a serving worker. Frozen
objects that later become cyclic garbage are not reclaimed: start-up objects live as long as
the process, so that costs nothing in practice (the CPython documentation recommends it for
servers; see ``gc.freeze``).

``monitoring.server.gc_threshold``: CPython collects its youngest generation every 700 net
allocations of tracked objects, which a server's requests reach every few dozen requests:
under load those collections took about 4 % of a worker's CPU on the benchmark machine. A
threshold of 7000 collects ten times less often; what a young collection walks is what is
alive then (the requests in flight), so each costs about the same, and cyclic garbage waits
a little longer to be reclaimed (a few MB at most). An app that set its own threshold
(at import or in its start-up) keeps it.

Both run only in ``robutler serve``'s workers, not in a process that serves an
``instrument()``-ed app (``ServeSettings.embedded``).
"""

from __future__ import annotations

import gc

#: CPython's own first threshold: anything else was set by the app, which knows better
PYTHON_DEFAULT_THRESHOLD = 700


def set_young_threshold(threshold: int) -> bool:
    """Collect the youngest generation every ``threshold`` net allocations (the older two unchanged).

    Left alone (False) when the process no longer has CPython's default: the app tuned it.
    """
    current = gc.get_threshold()
    if current[0] != PYTHON_DEFAULT_THRESHOLD:
        return False
    gc.set_threshold(threshold, *current[1:])
    return True


def freeze_now() -> int:
    """Collect, then freeze every object alive; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
