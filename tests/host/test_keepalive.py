"""Idle keep-alive connections: closed by one sweep per server, after the timeout and never before."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from robutler_monitoring.host.keepalive import KeepAliveSweep, sweep_interval
from tests.support.servers import robutler_serve

APP = """
import asyncio

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":  # a stream that outlasts the keep-alive timeout
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(5):
            await asyncio.sleep(0.5)
            await send({"type": "http.response.body", "body": b"tick\\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""

REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"ok"):
        chunk = sock.recv(4096)
        assert chunk, f"closed in the middle of a response: {data!r}"
        data += chunk
    return data


def _closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (reading nothing else)."""
    started = time.monotonic()
    sock.settimeout(limit)
    assert sock.recv(10) == b""
    return time.monotonic() - started


@pytest.mark.slow
def test_an_idle_connection_is_closed_after_the_timeout_and_an_active_one_is_not(tmp_path: Path) -> None:
    (tmp_path / "kaapp.py").write_text(APP)
    args = ("kaapp.py:app", "--timeout-keep-alive", "2")
    with robutler_serve(*args, tmp_path=tmp_path, cwd=tmp_path) as server:
        idle = socket.create_connection(("127.0.0.1", server.port))
        busy = socket.create_connection(("127.0.0.1", server.port))
        busy.settimeout(10)
        idle.sendall(REQUEST)
        assert _read_response(idle).startswith(b"HTTP/1.1 200")
        # a request every 1.5 s on the other connection: never idle for 2 s, never closed
        started = time.monotonic()
        while time.monotonic() - started < 5:
            busy.sendall(REQUEST)
            assert _read_response(busy).startswith(b"HTTP/1.1 200")
            time.sleep(1.5)
        # the idle one was closed meanwhile; on its own it closes between 2 s and 2 s + one sweep
        fresh = socket.create_connection(("127.0.0.1", server.port))
        fresh.sendall(REQUEST)
        _read_response(fresh)
        waited = _closed_after(fresh, 10)
        assert 2.0 <= waited < 2.0 + sweep_interval(2) + 0.5
        assert idle.recv(10) == b""  # long closed
        # a stream longer than the timeout is not cut: the connection is idle only after it
        stream = socket.create_connection(("127.0.0.1", server.port))
        stream.settimeout(10)
        stream.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        body = b""
        while not body.endswith(b"0\r\n\r\n"):
            chunk = stream.recv(4096)
            assert chunk, f"the stream was cut: {body!r}"
            body += chunk
        assert body.count(b"tick") == 5
        for sock in (idle, busy, fresh, stream):
            sock.close()


def test_sweep_intervals_are_a_second_at_most_and_half_a_short_timeout() -> None:
    assert sweep_interval(5) == 1.0
    assert sweep_interval(120) == 1.0
    assert sweep_interval(1) == 0.5
    assert sweep_interval(0) == 0.05


class _Conn:
    def __init__(self, idle_since: float | None) -> None:
        self.idle_since = idle_since
        self.closed = False

    def timeout_keep_alive_handler(self) -> None:
        self.closed = True


def test_a_sweep_closes_only_connections_idle_for_the_timeout_and_stops_when_none_are_left() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        expired, fresh, busy = _Conn(now - 3.0), _Conn(now), _Conn(None)
        conns = {expired, fresh, busy}
        sweep = KeepAliveSweep(loop, conns, timeout=0.1)
        sweep.arm()
        sweep.arm()  # one timer, however often a response ends
        await asyncio.sleep(sweep_interval(0.1) * 1.5)
        assert expired.closed and expired.idle_since is None
        assert not busy.closed
        await asyncio.sleep(0.2)
        assert fresh.closed  # idle past the 0.1 s timeout by now
        conns.clear()
        await asyncio.sleep(sweep_interval(0.1) * 2)
        assert sweep._handle is None  # no connections: no timer left running

    asyncio.run(run())


def test_a_server_run_again_on_a_new_loop_gets_a_sweep_of_its_own() -> None:
    from uvicorn.server import ServerState

    from robutler_monitoring.host.keepalive import sweep_for

    state = ServerState()

    async def run() -> _Conn:
        loop = asyncio.get_running_loop()
        conn = _Conn(loop.time() - 10.0)
        state.connections.add(conn)  # type: ignore[arg-type]
        sweep_for(state, loop, 0.1).arm()
        await asyncio.sleep(sweep_interval(0.1) * 2)
        state.connections.discard(conn)
        return conn

    first = asyncio.run(run())
    second = asyncio.run(run())  # the first loop closed with a sweep armed on it
    assert first.closed and second.closed
