"""Real servers for tests: an ASGI app under uvicorn in a thread, or `robutler serve` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> bool:
    """True once something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def run_asgi(app: Any, host: str = "127.0.0.1", **uvicorn_kwargs: Any) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn server in a thread; yield its base URL."""
    port = free_port(host)
    uvicorn_kwargs.setdefault("log_level", "warning")
    uvicorn_kwargs.setdefault("lifespan", "on")
    config = uvicorn.Config(app, host=host, port=port, **uvicorn_kwargs)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class ServeProcess:
    """A running `robutler serve` subprocess and its captured output."""

    proc: subprocess.Popen[bytes]
    base_url: str
    stdout_path: Path
    stderr_path: Path
    port: int
    extra: dict[str, Any] = field(default_factory=dict)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """Stop the server as Ctrl-C would and return its exit code."""
        return interrupt(self.proc, timeout)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access lines to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def run_http_handler(handler: type[BaseHTTPRequestHandler], port: int) -> Iterator[None]:
    """Serve ``handler`` on ``127.0.0.1:port`` in a thread (one thread per request) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def interrupt(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """Stop a process as Ctrl-C would (killing it after ``timeout``); return its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


def robutler_command(*args: str) -> list[str]:
    """The argv that runs the `robutler` command of this checkout."""
    return [sys.executable, "-m", "robutler_monitoring", *args]


def run_robutler(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run a `robutler` command to completion and capture its output."""
    return subprocess.run(
        robutler_command(*args),
        env=_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@contextlib.contextmanager
def robutler_serve(
    *args: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 30.0,
    root_args: tuple[str, ...] = (),
) -> Iterator[ServeProcess]:
    """Start `robutler ROOT_ARGS serve ARGS --host HOST --port PORT`; wait until it listens, stop it after."""
    port = port or free_port(host)
    out = tmp_path / f"serve-{port}.out"
    err = tmp_path / f"serve-{port}.err"
    argv = robutler_command(*root_args, "serve", *args, "--host", host, "--port", str(port))
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen(argv, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=_env(env), cwd=cwd)
    served = ServeProcess(proc, f"http://{host}:{port}", out, err, port)
    try:
        deadline = time.monotonic() + timeout
        while not wait_for_port(host, port, timeout=0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                served.stop()
                raise RuntimeError(
                    f"robutler serve did not start (exit {proc.returncode}):\n"
                    f"stdout:\n{served.stdout()}\nstderr:\n{served.stderr()}"
                )
        yield served
    finally:
        served.stop()


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBUTLER_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env
