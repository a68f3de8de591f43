"""Where spooled usage records go: JSON-lines files and CloudEvents 1.0 HTTP batches.

A sink's ``send(records)`` returns once every record is stored on the other side, or
raises; the exporter retries. Both are at least once: a record can be sent again
after a crash between sending and marking it sent, with the same ``id``, so a receiver
that dedupes by ``id`` sees each record once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = ["CLOUDEVENTS_BATCH", "HttpSink", "JsonlSink", "Sink", "cloudevent"]

CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"


class Sink(Protocol):
    name: str

    def send(self, records: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """Appends records to ``path``, one JSON object a line; starts a new file past ``max_bytes``.

    Rotated files are ``path.1`` (newest) to ``path.<keep>``; older ones are deleted.
    """

    name = "jsonl"

    def __init__(self, path: str, *, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)

    def send(self, records: Sequence[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in records).encode()
        try:
            size = os.path.getsize(self.path)
        except FileNotFoundError:
            size = 0
        if size and size + len(data) > self.max_bytes:
            self._rotate()
        with open(self.path, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def _rotate(self) -> None:
        for i in range(self.keep, 0, -1):
            older = f"{self.path}.{i}"
            if os.path.exists(older):
                if i == self.keep:
                    os.remove(older)
                else:
                    os.replace(older, f"{self.path}.{i + 1}")
        os.replace(self.path, f"{self.path}.1")

    def close(self) -> None:
        pass


def cloudevent(record: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The CloudEvents 1.0 JSON form of a usage record (``id`` is the record's deterministic id).

    >>> e = cloudevent({"id": "ab-0", "type": "llm", "agent": "a", "timestamp": 0.0}, "robutler")
    >>> e["specversion"], e["id"], e["type"], e["subject"], e["time"]
    ('1.0', 'ab-0', 'com.robutler.usage.llm', 'a', '1970-01-01T00:00:00+00:00')
    """
    timestamp = record.get("timestamp")
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": record["id"],
        "source": source,
        "type": f"com.robutler.usage.{record.get('type', 'unknown')}",
        "datacontenttype": "application/json",
        "data": dict(record),
    }
    if record.get("agent"):
        event["subject"] = record["agent"]
    if isinstance(timestamp, int | float):
        event["time"] = datetime.fromtimestamp(timestamp, UTC).isoformat()
    return event


class HttpSink:
    """POSTs records as one CloudEvents batch (``application/cloudevents-batch+json``); 2xx is success."""

    name = "http"

    def __init__(self, url: str, *, source: str, headers: Mapping[str, str], timeout: float) -> None:
        import httpx

        self.url = url
        self.source = source
        self._client = httpx.Client(
            timeout=timeout, headers={"content-type": CLOUDEVENTS_BATCH, **headers}, trust_env=False
        )

    def send(self, records: Sequence[dict[str, Any]]) -> None:
        body = json.dumps([cloudevent(r, self.source) for r in records], separators=(",", ":"), default=str)
        response = self._client.post(self.url, content=body)
        if not 200 <= response.status_code < 300:
            raise SinkError(f"{self.url} answered {response.status_code}")

    def close(self) -> None:
        self._client.close()


class SinkError(Exception):
    """A sink refused a batch (it will be sent again)."""
