"""A cap on the label values that come from outside (agent, model and tool names).

Dynamic agents, model strings and the tool names an LLM emits are not under the
operator's control; without a cap, any input could grow ``/metrics`` without bound.
Each capped metric keeps at most ``limit`` distinct series; a new series beyond that
is recorded under ``other`` for each outside label, and counted as refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["OTHER", "LabelCap"]

OTHER = "other"


class LabelCap:
    """Bounds the distinct series of one metric.

    >>> refused = []
    >>> cap = LabelCap("robutler_tool_calls_total", 2, outside=(0,), on_refused=refused.append)
    >>> [cap.labels(("a", "ok")), cap.labels(("b", "ok")), cap.labels(("c", "ok")), cap.labels(("a", "ok"))]
    [('a', 'ok'), ('b', 'ok'), ('other', 'ok'), ('a', 'ok')]
    >>> refused
    ['robutler_tool_calls_total']
    """

    __slots__ = ("_lock", "_on_refused", "_outside", "_seen", "limit", "metric")

    def __init__(
        self,
        metric: str,
        limit: int,
        *,
        outside: tuple[int, ...],
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.metric = metric
        self.limit = limit
        self._outside = outside  #: positions of the labels whose values come from outside
        self._on_refused = on_refused
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def labels(self, values: tuple[str, ...]) -> tuple[str, ...]:
        """``values``, or the ``other`` series when ``values`` would be one series too many."""
        if values in self._seen:
            return values
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(values)
                return values
        if self._on_refused is not None:
            self._on_refused(self.metric)
        return tuple(OTHER if i in self._outside else v for i, v in enumerate(values))
