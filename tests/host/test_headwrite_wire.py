"""HeadWithBody through ``robutler serve``: what a client reads off the socket is whole, in order, on time.

The head of each response is held until its first body bytes (one send); these tests
read raw sockets to show nothing a client sees changed: bodies byte-exact, keep-alive
and pipelining in order, a head that comes before a slow body is not held back with it,
streamed chunks arrive one by one, bodyless responses and ``connection: close`` are
complete, and websockets (never wrapped) still work. ``test_headers_send.py`` counts the sends.
"""

from __future__ import annotations

import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ServeProcess, robutler_serve

pytestmark = pytest.mark.slow

BIG = 1024 * 1024

APP = textwrap.dedent(
    """
    import asyncio, os

    FLAG = os.environ["HEAD_TEST_FLAG"]
    BIG = bytes(range(256)) * (1024 * 1024 // 256)


    async def _released():
        while not os.path.exists(FLAG):
            await asyncio.sleep(0.01)


    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return
                await send({"type": "websocket.send", "text": "echo:" + message["text"]})
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/wait":  # the head, then a body only once the test allows it
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"8")]})
            await _released()
            await send({"type": "http.response.body", "body": b"released"})
        elif path == "/stream":  # chunked: the first chunk, then the rest once allowed
            headers = [(b"content-type", b"text/plain")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            await _released()
            for i in range(20):
                await send({"type": "http.response.body", "body": b"chunk%02d;" % i, "more_body": True})
                await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b""})
        elif path in ("/none", "/same"):
            status = 204 if path == "/none" else 304
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        else:
            body = BIG if path == "/big" else b'{"path":"%s"}' % path.encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
    """
)


class Wire:
    """One raw client connection, reading responses the way an HTTP/1.1 client does."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _more(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            assert self._more(), f"closed after {len(self.buf)} of {n} bytes"
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            assert self._more(), "closed mid-line"
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buf:
            assert self._more(), f"closed before the head ended: {self.buf!r}"
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = raw.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        return int(status_line.split()[1]), headers

    def chunk(self) -> bytes:
        size = int(self._line(), 16)
        data = self._take(size)
        assert self._take(2) == b"\r\n"
        return data

    def response(self, bodyless: bool = False) -> tuple[int, dict[str, str], bytes]:
        status, headers = self.head()
        if bodyless:
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            chunks = []
            while chunk := self.chunk():  # the last, empty chunk ends it (no trailers here)
                chunks.append(chunk)
            return status, headers, b"".join(chunks)
        return status, headers, self._take(int(headers.get("content-length", "0")))

    def pending(self, wait: float = 0.3) -> bytes:
        """What arrived within ``wait`` seconds and is not read yet (no blocking beyond that)."""
        self.sock.settimeout(wait)
        try:
            self._more()
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(10)
        return self.buf

    def at_eof(self) -> bool:
        return not self._more()

    def close(self) -> None:
        self.sock.close()


def _get(path: str, version: str = "1.1", method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: x\r\n{extra}\r\n".encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Path]]:
    tmp = tmp_path_factory.mktemp("wire")
    (tmp / "wireapp.py").write_text(APP)
    flag = tmp / "release"
    with robutler_serve(
        "wireapp:app", "--app-dir", str(tmp), tmp_path=tmp, env={"HEAD_TEST_FLAG": str(flag)}
    ) as server:
        yield server, flag


@pytest.fixture
def wire(served: tuple[ServeProcess, Path]) -> Iterator[Wire]:
    client = Wire(served[0].port)
    yield client
    client.close()


@pytest.fixture
def flag(served: tuple[ServeProcess, Path]) -> Iterator[Path]:
    served[1].unlink(missing_ok=True)
    yield served[1]
    served[1].unlink(missing_ok=True)


def test_small_and_large_bodies_arrive_whole_over_one_kept_alive_connection(wire: Wire) -> None:
    expected_big = bytes(range(256)) * (BIG // 256)
    for i in range(100):
        path = "/big" if i % 25 == 0 else f"/small/{i}"
        wire.send(_get(path))
        status, headers, body = wire.response()
        assert status == 200 and headers["content-type"] == "application/json"
        assert body == (expected_big if path == "/big" else b'{"path":"%s"}' % path.encode())


def test_pipelined_requests_are_answered_in_order(wire: Wire) -> None:
    paths = [f"/p{i}" for i in range(30)] + ["/big", "/none", "/after"]
    wire.send(b"".join(_get(p) for p in paths))
    bodies = []
    for path in paths:
        status, _, body = wire.response(bodyless=path == "/none")
        bodies.append((status, body[:20] if path == "/big" else body))
    assert bodies[:30] == [(200, b'{"path":"/p%d"}' % i) for i in range(30)]
    assert bodies[30] == (200, bytes(range(20)))
    assert bodies[31:] == [(204, b""), (200, b'{"path":"/after"}')]


def test_a_head_sent_before_a_slow_body_reaches_the_client_first(wire: Wire, flag: Path) -> None:
    wire.send(_get("/wait"))
    started = time.monotonic()
    status, headers = wire.head()  # the body is not released yet: only the head can arrive
    waited = time.monotonic() - started
    assert status == 200 and headers["content-length"] == "8"
    assert waited < 2 and wire.pending() == b""
    flag.touch()
    assert wire._take(8) == b"released"


def test_a_stream_sends_its_first_chunk_at_once_and_then_every_chunk(wire: Wire, flag: Path) -> None:
    wire.send(_get("/stream"))
    status, headers = wire.head()
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert wire.chunk() == b"first"  # before the rest is released
    flag.touch()
    rest = []
    while chunk := wire.chunk():
        rest.append(chunk)
    assert rest == [b"chunk%02d;" % i for i in range(20)]
    assert wire.pending(0.1) == b""  # nothing after the last chunk


@pytest.mark.parametrize(
    ("method", "path", "status"), [("HEAD", "/h", 200), ("GET", "/none", 204), ("GET", "/same", 304)]
)
def test_bodyless_responses_get_their_head_and_the_connection_goes_on(
    wire: Wire, method: str, path: str, status: int
) -> None:
    wire.send(_get(path, method=method))
    got, headers, _ = wire.response(bodyless=True)
    assert got == status
    if method == "HEAD":
        assert headers["content-length"] == "13"  # what a GET would have carried
    wire.send(_get("/next"))  # nothing of the bodyless response is left over on the connection
    status, _, body = wire.response()
    assert (status, body) == (200, b'{"path":"/next"}')


@pytest.mark.parametrize(
    ("request_bytes", "body"),
    [
        (_get("/c1", extra="Connection: close\r\n"), b'{"path":"/c1"}'),
        (_get("/c2", version="1.0"), b'{"path":"/c2"}'),
        (_get("/c3", version="1.0", method="HEAD"), b""),
    ],
)
def test_connection_close_comes_after_the_whole_response(
    wire: Wire, request_bytes: bytes, body: bytes
) -> None:
    wire.send(request_bytes)
    status, headers, got = wire.response(bodyless=not body)
    assert (status, got) == (200, body)
    assert headers["connection"] == "close"
    assert wire.at_eof() and wire.buf == b""


def test_websockets_still_work_through_robutler_serve(served: tuple[ServeProcess, Path]) -> None:
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{served[0].port}/ws", open_timeout=10) as ws:
        for word in ("one", "two"):
            ws.send(word)
            assert ws.recv(timeout=10) == f"echo:{word}"
    # and a plain request on the same server afterwards
    client = Wire(served[0].port)
    try:
        client.send(_get("/after-ws"))
        assert client.response()[2] == b'{"path":"/after-ws"}'
    finally:
        client.close()
