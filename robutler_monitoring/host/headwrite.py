"""A response's head and its first body bytes in one ``send``: a connection's transport for its responses.

uvicorn writes a response's head (status line and headers) and its body with two
``transport.write`` calls: two system calls for nearly every response, the larger share
of what a small response costs the server. :class:`HeadWithBody` keeps each response's
first write (its head) until the next write, which for most responses comes in the same
step of the request's task; if it does not (an app that sends its head, then waits), the
head goes out on the event loop's next turn (``call_soon``), so a client never waits on
it for longer. One per connection, so that every write of the connection stays in order
whoever makes it: the protocol calls :meth:`~HeadWithBody.next_response` when a response
ends and :meth:`~HeadWithBody.flush` before it writes on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

#: below this body size the head and body are joined into one bytes object; above, writelines
JOIN_BELOW = 64 * 1024
#: an interim response uvicorn writes before the app reads the body: never held
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class HeadWithBody:
    """A connection's transport for its response cycles: each head waits for the first body write.

    >>> class Transport:
    ...     def __init__(self): self.sent = []
    ...     def write(self, data): self.sent.append(data)
    ...     def is_closing(self): return False
    >>> loop = asyncio.new_event_loop()
    >>> out = HeadWithBody(Transport(), loop)
    >>> out.write(b"HTTP/1.1 200 OK\\r\\n\\r\\n"); out.write(b"ok")
    >>> out._transport.sent
    [b'HTTP/1.1 200 OK\\r\\n\\r\\nok']
    >>> loop.close()
    """

    __slots__ = ("_loop", "_started", "_transport", "held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self.held: bytes | None = None  #: a head waiting for its body (or the next turn)
        self._started = False  # this response's head went (or is held)

    def next_response(self) -> None:
        """The response ended: the next write is the next response's head."""
        self._started = False

    def write(self, data: bytes) -> None:
        held = self.held
        if held is not None:
            self.held = None
            if len(data) < JOIN_BELOW:
                self._transport.write(held + data)
            else:  # no copy of a large body
                self._transport.writelines((held, data))
        elif self._started or data == _CONTINUE:
            self._transport.write(data)
        else:
            self._started = True
            self.held = data
            self._loop.call_soon(self.flush)

    def writelines(self, data: Iterable[bytes]) -> None:
        self.flush()
        self._transport.writelines(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def flush(self) -> None:
        """Send a head still held (the loop's next turn, or before anything else writes)."""
        held = self.held
        if held is not None:
            self.held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # get_extra_info, abort, ...: the transport's own
        return getattr(self._transport, name)
