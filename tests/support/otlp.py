"""A real OTLP/HTTP trace receiver on a loopback port, decoding with opentelemetry-proto."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from .servers import QuietHandler, free_port, run_http_handler

_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def _value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, which) if which else None


@dataclass
class ReceivedSpan:
    """One decoded span."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: str
    attributes: dict[str, Any]
    status: str
    events: list[tuple[str, dict[str, Any]]]
    service: str | None
    resource: dict[str, Any]
    start_ns: int
    end_ns: int


@dataclass
class Receiver:
    """What the receiver got; ``hang`` makes it hold every request until released."""

    url: str
    port: int
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    paths: list[str] = field(default_factory=list)
    hang: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(
        self, predicate: Callable[[list[ReceivedSpan]], bool], timeout: float = 30.0
    ) -> list[ReceivedSpan]:
        """Poll until ``predicate(spans)`` holds (deadline, never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            time.sleep(0.05)
        raise AssertionError(
            f"the receiver did not get the expected spans in {timeout}s: {[s.name for s in spans]}"
        )


def _decode(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    out = []
    for rs in request.resource_spans:
        resource = {a.key: _value(a.value) for a in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    ReceivedSpan(
                        name=s.name,
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_id=s.parent_span_id.hex(),
                        kind=_KINDS.get(s.kind, str(s.kind)),
                        attributes={a.key: _value(a.value) for a in s.attributes},
                        status=_STATUS.get(s.status.code, str(s.status.code)),
                        events=[(e.name, {a.key: _value(a.value) for a in e.attributes}) for e in s.events],
                        service=resource.get("service.name"),
                        resource=resource,
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                    )
                )
    return out


@contextlib.contextmanager
def otlp_receiver(
    path: str = "/v1/traces", *, port: int | None = None, hang: bool = False
) -> Iterator[Receiver]:
    """Serve OTLP/HTTP (protobuf) on 127.0.0.1; yield what arrives."""
    port = port or free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}{path}", port, hang=threading.Event() if hang else None)

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests += 1
                receiver.paths.append(self.path)
            if receiver.hang is not None:
                receiver.hang.wait(60)
                return
            if self.path != path:
                self.send_response(404)
                self.end_headers()
                return
            spans = _decode(body)
            with receiver.lock:
                receiver.spans.extend(spans)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    with run_http_handler(Handler, port):
        try:
            yield receiver
        finally:
            if receiver.hang is not None:
                receiver.hang.set()
