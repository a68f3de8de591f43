"""HeadWithBody, unit: a response's head and body leave in one send, in order, and never late.

The real uvicorn httptools protocol (our subclass) and its RequestResponseCycle run on
a real event loop; only the socket is replaced by a transport that records each
``write``/``writelines`` call, since the number of sends is what a real server cannot show.
``test_headwrite_wire.py`` checks the same behaviour through ``robutler serve``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from robutler_monitoring.host.headers import protocol_class
from robutler_monitoring.host.headwrite import HeadWithBody

App = Callable[[Any, Any, Any], Awaitable[None]]
BIG = 1024 * 1024


class RecordingTransport:
    """A socket's transport that records every send; writing once closing fails the test."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []  # ("write" | "writelines" | "close", bytes sent)
        self.parts: list[list[bytes]] = []  # what each writelines call was given
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.calls.append(("write", bytes(data)))

    def writelines(self, lines: Any) -> None:
        assert not self.closing, "written after close"
        parts = list(lines)
        self.parts.append(parts)
        self.calls.append(("writelines", b"".join(parts)))

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", b""))

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def sends(self) -> list[bytes]:
        return [data for kind, data in self.calls if kind != "close"]

    def wire(self) -> bytes:
        return b"".join(self.sends())


def _connect(app: App) -> tuple[Any, RecordingTransport]:
    config = Config(app=app, lifespan="off", access_log=False, log_config=None)
    protocol: Any = protocol_class("httptools")(config, ServerState(), {})  # type: ignore[call-arg]
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def _json_app(body: bytes = b'{"ok":true}') -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def test_a_small_response_is_one_write_head_first() -> None:
    async def go() -> RecordingTransport:
        protocol, transport = _connect(_json_app())
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await _turns()
        protocol.data_received(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive: a second cycle
        await _turns()
        return transport

    transport = asyncio.run(go())
    assert [kind for kind, _ in transport.calls] == ["write", "write"]  # one send per response
    for data in transport.sends():
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        head, body = data.split(b"\r\n\r\n", 1)
        assert b"content-length: 11" in head and body == b'{"ok":true}'


def test_a_large_body_goes_with_its_head_in_one_writelines_without_a_copy() -> None:
    body = bytes(range(256)) * (BIG // 256)

    async def go() -> RecordingTransport:
        protocol, transport = _connect(_json_app(body))
        protocol.data_received(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        await _turns()
        return transport

    transport = asyncio.run(go())
    assert [kind for kind, _ in transport.calls] == ["writelines"]
    head, sent = transport.parts[0]
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    assert sent is body  # the app's own bytes object: 1 MiB is not copied to join it


def test_pipelined_requests_get_one_write_each_in_order() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = scope["path"].encode()
        headers = [(b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def go() -> RecordingTransport:
        protocol, transport = _connect(app)
        protocol.data_received(b"".join(b"GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5)))
        await _turns(30)
        return transport

    transport = asyncio.run(go())
    sends = transport.sends()
    assert [data.split(b"\r\n\r\n", 1)[1] for data in sends] == [b"/r%d" % i for i in range(5)]


def test_a_head_without_a_body_yet_goes_out_on_the_next_loop_turn() -> None:
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await release.wait()  # e.g. an agent thinking before its first token
        await send({"type": "http.response.body", "body": b"late"})

    async def go() -> tuple[list[tuple[str, bytes]], RecordingTransport]:
        protocol, transport = _connect(app)
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await _turns()
        before = list(transport.calls)
        release.set()
        await _turns()
        return before, transport

    before, transport = asyncio.run(go())
    assert len(before) == 1
    assert before[0][1].startswith(b"HTTP/1.1 200 OK\r\n") and before[0][1].endswith(
        b"\r\n\r\n"
    )  # the head alone
    assert transport.sends()[1:] == [b"late"]


def test_a_streamed_response_sends_every_chunk_as_it_comes() -> None:
    step = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # chunked
        for i in range(3):
            await send({"type": "http.response.body", "body": b"tok%d" % i, "more_body": True})
            await step.wait()
            step.clear()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def go() -> list[list[bytes]]:
        protocol, transport = _connect(app)
        protocol.data_received(b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        seen = []
        for _ in range(4):
            await _turns()
            seen.append(transport.sends())
            step.set()
        return seen

    seen = asyncio.run(go())
    first = seen[0]
    assert len(first) == 1 and b"transfer-encoding: chunked" in first[0]
    assert first[0].endswith(b"\r\n\r\n4\r\ntok0\r\n")  # the first chunk with the head, not held back
    assert seen[1][1:] == [b"4\r\ntok1\r\n"] and seen[2][2:] == [b"4\r\ntok2\r\n"]
    assert seen[3][3:] == [b"0\r\n\r\n"]


@pytest.mark.parametrize(
    ("request_line", "status"),
    [(b"HEAD / HTTP/1.1", 200), (b"GET /none HTTP/1.1", 204), (b"GET /same HTTP/1.1", 304)],
)
def test_bodyless_responses_get_their_head(request_line: bytes, status: int) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"5")] if status == 200 else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if status != 200 else b"hello"})

    async def go() -> RecordingTransport:
        protocol, transport = _connect(app)
        protocol.data_received(request_line + b"\r\nHost: x\r\n\r\n")
        await _turns()
        return transport

    transport = asyncio.run(go())
    assert len(transport.sends()) == 1
    head = transport.wire()
    assert head.startswith(b"HTTP/1.1 %d " % status) and head.endswith(b"\r\n\r\n")
    assert b"hello" not in head and not transport.closing


def test_connection_close_sends_the_whole_response_before_closing() -> None:
    async def go() -> RecordingTransport:
        protocol, transport = _connect(_json_app())
        protocol.data_received(b"HEAD / HTTP/1.0\r\n\r\n")  # HTTP/1.0, and no body: only the held head
        await _turns()
        return transport

    transport = asyncio.run(go())
    kinds = [kind for kind, _ in transport.calls]
    assert kinds == ["write", "close"]
    head = transport.calls[0][1]
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close" in head


def test_a_head_still_held_at_server_shutdown_is_sent_before_the_connection_closes() -> None:
    # A HEAD response writes only its head; if the server's shutdown runs before the
    # loop's next turn, the connection is closed by the protocol, not by the cycle.
    connection: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})
        connection[0].shutdown()  # the server shutting down in the same step (Ctrl-C, --limit-max-requests)

    async def go() -> RecordingTransport:
        protocol, transport = _connect(app)
        connection.append(protocol)
        protocol.data_received(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        await _turns()
        return transport

    transport = asyncio.run(go())
    assert [kind for kind, _ in transport.calls] == ["write", "close"]
    assert transport.calls[0][1].startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_websocket_upgrade_is_not_refused() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - not reached here
        pass

    async def go() -> RecordingTransport:
        protocol, transport = _connect(app)
        upgrades: list[bool] = []
        protocol.handle_websocket_upgrade = lambda: upgrades.append(True)
        protocol.data_received(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await _turns()
        assert upgrades == [True]  # handed to the websocket protocol, not answered 400
        return transport

    transport = asyncio.run(go())
    assert transport.calls == []


def test_head_with_body_directly() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        real = RecordingTransport()
        wrapped = HeadWithBody(real, loop)  # type: ignore[arg-type]
        wrapped.write(b"HEAD\r\n\r\n")
        assert real.calls == []  # held
        wrapped.write(b"body")
        wrapped.write(b"more")
        assert real.sends() == [b"HEAD\r\n\r\nbody", b"more"]
        await _turns(2)  # the scheduled flush finds nothing held
        assert real.sends() == [b"HEAD\r\n\r\nbody", b"more"]

        real = RecordingTransport()
        wrapped = HeadWithBody(real, loop)  # type: ignore[arg-type]
        wrapped.write(b"HEAD\r\n\r\n")
        real.close()  # the client went away before the loop's next turn
        await _turns(2)
        assert real.sends() == [] and wrapped.is_closing()

        real = RecordingTransport()
        wrapped = HeadWithBody(real, loop)  # type: ignore[arg-type]
        wrapped.write(b"HEAD\r\n\r\n")
        wrapped.close()
        assert real.calls == [("write", b"HEAD\r\n\r\n"), ("close", b"")]
        await _turns(2)
        assert wrapped.get_extra_info("peername") == ("127.0.0.1", 40000)  # the transport's own

    asyncio.run(go())


def _path_app() -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = scope["path"].encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def test_a_held_head_stays_ahead_of_the_next_responses_writes() -> None:
    """A HEAD answer is only a head, held a loop turn; the next pipelined response may write
    before that turn (an eager task factory runs its first step at once): it goes after it."""

    async def go() -> RecordingTransport:
        real = RecordingTransport()
        out = HeadWithBody(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        out.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")  # HEAD /a: held
        out.next_response()
        out.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")  # GET /b, before any turn
        out.write(b"/b")
        await _turns()
        return real

    real = asyncio.run(go())
    assert real.wire() == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n" * 2 + b"/b"


def test_every_response_of_a_connection_writes_through_one_head_with_body() -> None:
    seen: list[Any] = []

    async def go() -> None:
        protocol, _ = _connect(_path_app())
        protocol.data_received(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        seen.append(protocol.cycle.transport)
        await _turns(30)
        protocol.data_received(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
        seen.append(protocol.cycle.transport)
        await _turns(30)

    asyncio.run(go())
    assert isinstance(seen[0], HeadWithBody) and seen[0] is seen[1]  # one per connection: one queue of writes


def test_100_continue_is_not_held_and_the_response_still_goes_in_one_send() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()  # reading the body makes uvicorn send 100 Continue first
        body = message["body"]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def go() -> RecordingTransport:
        protocol, transport = _connect(app)
        protocol.data_received(
            b"POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        )
        await _turns(1)
        assert transport.sends() == [b"HTTP/1.1 100 Continue\r\n\r\n"]  # at once, not a turn later
        protocol.data_received(b"hello")
        await _turns()
        return transport

    transport = asyncio.run(go())
    sends = transport.sends()
    assert len(sends) == 2
    assert sends[1].startswith(b"HTTP/1.1 200 OK\r\n") and sends[1].endswith(b"\r\n\r\nhello")


def test_writelines_and_write_eof_go_after_a_held_head() -> None:
    class EofTransport(RecordingTransport):
        def write_eof(self) -> None:
            self.calls.append(("eof", b""))

    async def go() -> EofTransport:
        loop = asyncio.get_running_loop()
        real = EofTransport()
        out = HeadWithBody(real, loop)  # type: ignore[arg-type]
        out.write(b"HEAD\r\n\r\n")
        out.writelines([b"a", b"b"])
        out.next_response()
        out.write(b"HEAD2\r\n\r\n")
        out.write_eof()
        return real

    real = asyncio.run(go())
    assert [kind for kind, _ in real.calls] == ["write", "writelines", "write", "eof"]
    assert real.wire() == b"HEAD\r\n\r\nabHEAD2\r\n\r\n"
