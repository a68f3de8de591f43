"""A concern for tests: records the start and end of every operation, serves them as JSON.

``tests/plugin/test_concerns.py`` adds it to ``CONCERNS`` with one list entry in a real
``robutler serve`` of the demo, and reads ``/_test/operations``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

from robutler_monitoring.events import KINDS, Operation
from robutler_monitoring.host.types import Receive, Scope, Send
from robutler_monitoring.plugin.concerns import Concern, Endpoint
from robutler_monitoring.plugin.runtime import Runtime

PATH = "/_test/operations"


class RecordingConcern(Concern):
    """Keeps the last 2,000 starts and ends, each with its operation's number and parent's."""

    name = "recording"

    def __init__(self) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=2000)
        self._next = 0

    def subscribe(self, rt: Runtime) -> None:
        for kind in KINDS:
            rt.subscribe(kind, on_start=self._started, on_end=self._ended)

    def endpoints(self, rt: Runtime) -> Iterable[Endpoint]:
        return [Endpoint(PATH, self._serve)]

    def _started(self, op: Operation) -> None:
        self._next += 1
        op.state[self] = self._next
        parent = op.parent.state.get(self) if op.parent is not None else None
        self.events.append(
            {
                "event": "start",
                "id": self._next,
                "parent": parent,
                "kind": op.kind,
                "name": op.name,
                "request_id": op.request_id,
            }
        )

    def _ended(self, op: Operation) -> None:
        self.events.append(
            {
                "event": "end",
                "id": op.state.get(self),
                "kind": op.kind,
                "name": op.name,
                "outcome": op.outcome,
                "request_id": op.request_id,
                "agent": op.agent,
            }
        )

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = json.dumps(list(self.events)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
