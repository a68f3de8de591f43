"""Logging speed, as ratios measured in one run on one machine.

1. JSON lines per second: this package's sink vs loguru's ``serialize=True`` vs stdlib
   ``logging`` with a JSON formatter; the same messages and fields, written to /dev/null.
2. The cost one request pays for its access record, vs a loguru ``serialize=True``
   access line and vs serving a bare ASGI request in-process.

Run: ``.venv/bin/python benchmarks/bench_logging.py`` (about 30 s).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger

from robutler_monitoring.events import EventBus, HttpRequest
from robutler_monitoring.plugin.config.schema import LoggingConfig
from robutler_monitoring.plugin.http.context import request_id_var
from robutler_monitoring.plugin.logging.access import AccessLogger
from robutler_monitoring.plugin.logging.setup import configure_logging

LINES = 10_000
REPEAT = 3
FIELDS = {"user_id": "u-1234", "operation": "chat_completion", "model": "gpt-4", "tokens": 512}


def best_of(run: Callable[[], float]) -> float:
    """The fastest of REPEAT runs (seconds), which is the least disturbed by the machine."""
    return min(run() for _ in range(REPEAT))


def bench_ours() -> float:
    handle = configure_logging(LoggingConfig(output=os.devnull), route_stdlib=False)
    bound = logger.bind(_logger="bench")

    def run() -> float:
        started = time.perf_counter()
        for i in range(LINES):
            bound.info("Processing request", request_no=i, **FIELDS)
        handle.flush(60)  # the writer thread's work counts too
        return time.perf_counter() - started

    try:
        return best_of(run)
    finally:
        handle.close()


def bench_loguru_serialize() -> float:
    sink = open(os.devnull, "w")  # noqa: SIM115
    handler_id = logger.add(sink, serialize=True, level="INFO")
    bound = logger.bind(logger="bench")

    def run() -> float:
        started = time.perf_counter()
        for i in range(LINES):
            bound.info("Processing request", request_no=i, **FIELDS)
        return time.perf_counter() - started

    try:
        return best_of(run)
    finally:
        logger.remove(handler_id)
        sink.close()


class JsonFormatter(logging.Formatter):
    """The usual hand-written stdlib JSON formatter."""

    _std = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in self._std})
        return json.dumps(entry, default=str)


def bench_stdlib_json() -> float:
    stream = open(os.devnull, "w")  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("bench.stdlib")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    def run() -> float:
        started = time.perf_counter()
        for i in range(LINES):
            log.info("Processing request", extra={"request_no": i, **FIELDS})
        return time.perf_counter() - started

    try:
        return best_of(run)
    finally:
        log.removeHandler(handler)
        stream.close()


def _record() -> HttpRequest:
    """A finished request, as the access log receives it from the bus."""
    op = HttpRequest("POST", "/assistant/chat/completions", request_id="0123456789abcdef0123456789abcdef",
                     bus=EventBus())  # fmt: skip
    op.route, op.status, op.peer = "/{agent}/chat/completions", 200, ("127.0.0.1", 51234)
    op.begin()
    op.ttfb_s = 0.004
    op.end()
    op.duration_s = 0.0123
    return op


RECORD = _record()


def bench_access_ours() -> float:
    handle = configure_logging(LoggingConfig(output=os.devnull), route_stdlib=False)
    listener = AccessLogger(handle.sink, ("/health",))

    def run() -> float:
        started = time.perf_counter()
        for _ in range(LINES):
            listener(RECORD)
        handle.flush(60)
        return time.perf_counter() - started

    try:
        return best_of(run) / LINES
    finally:
        handle.close()


def bench_access_loguru_serialize() -> float:
    sink = open(os.devnull, "w")  # noqa: SIM115
    handler_id = logger.add(sink, serialize=True, level="INFO")
    access = logger.bind(logger="robutler.access")
    r = RECORD

    def run() -> float:
        started = time.perf_counter()
        for _ in range(LINES):
            if r.path in ("/health",):
                continue
            access.info(
                "{} {} {}", r.method, r.path, r.status, method=r.method, path=r.path,
                route=r.route, status=r.status, duration_ms=round(r.duration_s * 1000, 3),
                ttfb_ms=round((r.ttfb_s or 0) * 1000, 3), client=r.client, request_id=r.request_id,
            )  # fmt: skip
        return time.perf_counter() - started

    try:
        return best_of(run) / LINES
    finally:
        logger.remove(handler_id)
        sink.close()


async def _bare_app(scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def bench_bare_request() -> float:
    """One bare ASGI request through uvicorn's HTTP protocol, no sockets: parse, call app, write."""
    from uvicorn.config import Config
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    class Transport(asyncio.Transport):
        def get_extra_info(self, name: str, default: object = None) -> object:
            return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5000)}.get(name, default)

        def write(self, data: bytes | bytearray | memoryview) -> None:
            pass

        def is_closing(self) -> bool:
            return False

        def close(self) -> None:
            pass

    request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"

    async def run_async() -> float:
        config = Config(_bare_app, log_level="error", access_log=False)
        config.load()
        protocol = H11Protocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
        protocol.connection_made(Transport())
        started = time.perf_counter()
        for _ in range(LINES):
            protocol.data_received(request)
            while protocol.cycle is not None and not protocol.cycle.response_complete:
                await asyncio.sleep(0)  # let the request task run to the end
            await asyncio.sleep(0)
        return time.perf_counter() - started

    return best_of(lambda: asyncio.run(run_async())) / LINES


def main() -> None:
    token = request_id_var.set("0123456789abcdef0123456789abcdef")
    logger.remove()
    try:
        ours, serialize, stdlib = bench_ours(), bench_loguru_serialize(), bench_stdlib_json()
        access, access_serialize = bench_access_ours(), bench_access_loguru_serialize()
        bare = bench_bare_request()
    finally:
        request_id_var.reset(token)
    rate = {name: LINES / t for name, t in (("ours", ours), ("serialize", serialize), ("stdlib", stdlib))}
    vs_serialize, vs_stdlib = rate["ours"] / rate["serialize"], rate["ours"] / rate["stdlib"]
    print(f"JSON lines per second ({LINES} lines, best of {REPEAT}):")
    print(f"  robutler sink          {rate['ours']:>10,.0f}/s")
    print(f"  loguru serialize=True  {rate['serialize']:>10,.0f}/s   ours is {vs_serialize:.2f}x")
    print(f"  stdlib + JSON format   {rate['stdlib']:>10,.0f}/s   ours is {vs_stdlib:.2f}x")
    print("Access record, cost per request:")
    print(f"  robutler access record {access * 1e6:8.1f} us")
    ratio = access / access_serialize
    print(f"  loguru serialize=True  {access_serialize * 1e6:8.1f} us   ratio {ratio:.2f}x (target <= 0.75x)")
    print(f"  bare request (uvicorn) {bare * 1e6:8.1f} us   access record = {access / bare:.2f}x a bare one")
    ok = access <= 0.75 * access_serialize and rate["ours"] >= rate["serialize"]
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
