"""A limit on the request head (request line and headers): larger gets 431 and is never buffered.

uvicorn's httptools protocol has no such limit (a client can send 100 MB of headers
and the server holds them all), and its h11 protocol answers 400 to an over-long head.
Both are subclassed here and chosen through uvicorn's ``http`` setting; the limit
travels in ``h11_max_incomplete_event_size``, the setting uvicorn already has for it,
so it reaches ``--workers`` processes with the rest of uvicorn's config.

The httptools subclass also sends each response's head and first body bytes in one
system call (``headwrite.py``), where uvicorn makes two, and leaves closing idle
keep-alive connections to one sweep per server (``keepalive.py``) instead of a timer
made and cancelled for every request.

These classes build on uvicorn internals (``uvicorn.protocols.http``, not a public
API), so the uvicorn versions they were tested with are checked at start-up by
:func:`check_uvicorn`; any other version is refused with a clear error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from .errors import HostError
from .headwrite import HeadWithBody
from .keepalive import sweep_for

#: The default limit: 64 KiB, as nginx's largest default header buffers (4 x 8k) and more.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
#: uvicorn versions whose protocol classes these subclasses were tested against ((major, minor)).
TESTED_UVICORN = ((0, 54),)
TESTED_RANGE = ">=0.54,<0.55"
HTTP_CHOICES = ("auto", "httptools", "h11")

log = logging.getLogger("uvicorn.error")

_REASON = b"Request Header Fields Too Large"
_BODY = b"Request header fields too large.\n"
_431 = (
    b"HTTP/1.1 431 " + _REASON + b"\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


def check_uvicorn(version: str | None = None) -> None:
    """Refuse to start on a uvicorn version these protocol subclasses were not tested with."""
    found = version or uvicorn.__version__
    try:
        major_minor = tuple(int(part) for part in found.split(".")[:2])
    except ValueError:
        major_minor = ()
    if major_minor not in TESTED_UVICORN:
        raise HostError(
            f"uvicorn {found} is not supported: the request header limit of robutler serve "
            f"builds on uvicorn's protocol classes and was tested with uvicorn{TESTED_RANGE}; "
            f"install that with: pip install 'uvicorn[standard]{TESTED_RANGE}'"
        )


def protocol_class(http: str) -> type[asyncio.Protocol]:
    """The limited protocol class for ``--http`` (``auto`` is httptools when installed, as in uvicorn)."""
    if http not in HTTP_CHOICES:
        raise HostError(f"--http {http!r} is not one of {', '.join(HTTP_CHOICES)}", exit_code=2)
    if http == "h11":
        return LimitedH11Protocol
    try:
        return _httptools_class()
    except ImportError:
        if http == "httptools":
            raise HostError("--http httptools needs the httptools package (pip install httptools)") from None
        return LimitedH11Protocol


def _limit(config: Config) -> int:
    value = config.h11_max_incomplete_event_size
    return value if value is not None else DEFAULT_MAX_HEADER_BYTES


def _refuse(protocol: Any, size: int, limit: int) -> None:
    peer = getattr(protocol, "client", None)
    client = f"{peer[0]}:{peer[1]} - " if peer else ""
    log.warning("%sRequest head over %d bytes (%d+ received): 431", client, limit, size)
    protocol.transport.write(_431)
    protocol.transport.close()


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol answering 431 (not 400) to a request head over the limit."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._max_head = _limit(config)

    def data_received(self, data: bytes) -> None:
        """Refuse a head that would grow past the limit before h11 buffers it."""
        import h11

        if self.conn.their_state is h11.IDLE:
            buffered = self.conn.trailing_data[0]
            if len(buffered) + len(data) > self._max_head:
                tail = buffered[-3:]  # the blank line that ends the head may span two reads
                end = (tail + data).find(b"\r\n\r\n")
                head = len(buffered) - len(tail) + end + 4 if end >= 0 else None
                if head is None or head > self._max_head:
                    _refuse(self, len(buffered) + len(data), self._max_head)
                    return
        super().data_received(data)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: --http auto means h11, as in uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment, misc]


def _httptools_class() -> type[asyncio.Protocol]:
    if HttpToolsProtocol is None:
        raise ImportError("httptools")
    return LimitedHttpToolsProtocol


if HttpToolsProtocol is not None:

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with a bound on the request head (httptools has none)."""

        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self._max_head = _limit(config)
            self._head_bytes = 0
            self._in_head = True
            #: the loop's time when this keep-alive connection went idle (None: not idle)
            self.idle_since: float | None = None
            self._sweep = sweep_for(server_state, self.loop, self.timeout_keep_alive)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            #: every response cycle of this connection writes through it, in order
            self._head_with_body = HeadWithBody(transport, self.loop)

        def data_received(self, data: bytes) -> None:
            """Feed the parser no more than the limit allows while a head is being read."""
            self.idle_since = None
            # what the protocol itself writes from here (a 400, a 431, a websocket handshake)
            # goes after a head still held
            if self._head_with_body.held is not None:
                self._head_with_body.flush()
            if not self._in_head:
                super().data_received(data)
                return
            allowance = self._max_head - self._head_bytes
            if len(data) <= allowance:
                self._head_bytes += len(data)
                super().data_received(data)
                return
            self._head_bytes = self._max_head
            super().data_received(data[:allowance])  # the head may end inside the allowance
            if self.transport.is_closing():
                return
            if self._in_head:
                _refuse(self, self._max_head + 1, self._max_head)
                return
            self.data_received(data[allowance:])

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True

        def on_headers_complete(self) -> None:
            self._in_head = False
            before = self.cycle
            super().on_headers_complete()
            if self.cycle is not before:  # no new cycle for a websocket upgrade: nothing to wrap
                # the cycle just made: its head and first body write go out in one send
                self.cycle.transport = self._head_with_body  # type: ignore[assignment]

        def on_response_complete(self) -> None:
            """uvicorn's, but an idle connection is closed by the server's sweep, not a timer of its own."""
            self.server_state.total_requests += 1
            self._head_with_body.next_response()  # a pipelined response's head is its first write
            if self.transport.is_closing():
                return
            self._unset_keepalive_if_required()
            self.flow.resume_reading()
            if self.pipeline:  # a pipelined request is waiting: start it
                cycle, app = self.pipeline.pop()
                self._start_asgi_task(cycle, app)
            else:
                self.idle_since = self.loop.time()
                self._sweep.arm()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head = True
            self._head_bytes = 0

        def shutdown(self) -> None:
            """Send a head still held first: uvicorn closes an idle connection's transport directly."""
            self._head_with_body.flush()
            super().shutdown()
