"""A CloudEvents batch receiver on loopback that can be down, then up; it dedupes by ``id``."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import uvicorn

from .servers import free_port


class CloudEventsReceiver:
    """Collects the events POSTed to it (all deliveries, and the unique ones by ``id``)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}/events"
        self.deliveries = 0  #: events received, re-sent copies included
        self.events: dict[str, dict[str, Any]] = {}  #: by id
        self.content_types: set[str] = set()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        with self._lock:
            self.content_types.add(headers.get(b"content-type", b"").decode())
            for event in json.loads(body):
                self.deliveries += 1
                self.events.setdefault(event["id"], event)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def start(self) -> None:
        """Listen (on the same port every time)."""
        config = uvicorn.Config(self, host=self.host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("receiver did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None

    def ids(self) -> set[str]:
        with self._lock:
            return set(self.events)

    def unique_events(self) -> list[dict[str, Any]]:
        """The events received so far, one per ``id``."""
        with self._lock:
            return list(self.events.values())
