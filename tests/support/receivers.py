"""Real notification receivers for tests: an HTTP webhook receiver and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from .servers import QuietHandler, free_port, run_http_handler
from .tls import Certs


@dataclass
class Received:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookReceiver:
    """A webhook receiver on a loopback port; ``mode`` 'ok', 'fail' (503) or 'hang' (sleep ``hang_s``)."""

    url: str
    received: list[Received] = field(default_factory=list)
    mode: str = "ok"
    hang_s: float = 30.0

    def wait_for(
        self, count: int, timeout: float = 30.0, where: Callable[[Received], bool] | None = None
    ) -> list[Received]:
        """Poll until at least ``count`` matching requests arrived (or the deadline passed)."""
        deadline = time.monotonic() + timeout
        while True:
            got = [r for r in list(self.received) if where is None or where(r)]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


@contextlib.contextmanager
def webhook_receiver(mode: str = "ok", hang_s: float = 30.0) -> Iterator[WebhookReceiver]:
    """Serve a :class:`WebhookReceiver` in a thread for the ``with`` block."""
    port = free_port()
    receiver = WebhookReceiver(f"http://127.0.0.1:{port}", mode=mode, hang_s=hang_s)
    stop = threading.Event()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            if receiver.mode == "hang":
                stop.wait(receiver.hang_s)
                return
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            status = 503 if receiver.mode == "fail" else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    with run_http_handler(Handler, port):
        try:
            yield receiver
        finally:
            stop.set()


def refused_url() -> str:
    """An http URL on a loopback port where nothing listens (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/refused"


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    sender: str
    recipients: list[str]
    message: Message


class _Handler:
    def __init__(self, inbox: list[Mail]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.inbox.append(
            Mail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(envelope.content, policy=email_policy.default),
            )
        )
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port, keeping what it receives and who logged in."""

    host: str
    port: int
    inbox: list[Mail]
    logins: list[str] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Mail]:
        """Poll until at least ``count`` messages arrived (or the deadline passed)."""
        deadline = time.monotonic() + timeout
        while len(self.inbox) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.inbox)


@contextlib.contextmanager
def smtp_server(
    credentials: tuple[str, str] | None = None,
    *,
    starttls: Certs | None = None,
    implicit_tls: Certs | None = None,
) -> Iterator[SmtpServer]:
    """Run an aiosmtpd server on a free loopback port; with ``credentials``, AUTH is offered and checked.

    ``starttls``: the server offers STARTTLS with these certificates and takes AUTH and mail only after it
    (587-style). ``implicit_tls``: the connection is TLS from the first byte (465-style).
    """
    inbox: list[Mail] = []
    port = free_port()
    server = SmtpServer("127.0.0.1", port, inbox)
    kwargs: dict[str, Any] = {}
    if credentials is not None:

        def authenticator(srv: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = (data.login.decode(), data.password.decode()) == credentials
            if ok:
                server.logins.append(data.login.decode())
            # handled=False: aiosmtpd then answers a refusal with 535 (True would leave the client hanging)
            return AuthResult(success=ok, handled=False)

        # without a certificate, allow AUTH in the clear (loopback tests only); under implicit TLS,
        # aiosmtpd does not see the TLS it runs in, so its own STARTTLS check must be off there too
        kwargs = {"authenticator": authenticator, "auth_require_tls": starttls is not None}
    if starttls is not None:
        kwargs |= {"tls_context": starttls.server_context(), "require_starttls": True}
    if implicit_tls is not None:
        kwargs["ssl_context"] = implicit_tls.server_context()
    controller = Controller(_Handler(inbox), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
