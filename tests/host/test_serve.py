"""`robutler serve` as a user runs it: a real process, real sockets, clean errors."""

from __future__ import annotations

import socket
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, robutler_serve, run_robutler

pytestmark = pytest.mark.slow  # every test here runs the robutler command

WIDE = {"COLUMNS": "200"}
SERVE_FLAGS = [
    "--factory",
    "--host",
    "--port",
    "--workers",
    "--config",
    "--log-level",
    "--reload",
    "--app-dir",
    "--root-path",
    "--proxy-headers",
    "--forwarded-allow-ips",
    "--timeout-keep-alive",
    "--timeout-graceful-shutdown",
    "--limit-concurrency",
    "--ssl-keyfile",
    "--ssl-certfile",
    "--log-format",
    "--log-output",
    "--access-log",
]


def test_help_lists_serve_and_monitor() -> None:
    result = run_robutler("--help", env=WIDE)
    assert result.returncode == 0
    for command in ("serve", "monitor", "plugins"):
        assert f" {command} " in result.stdout


def test_serve_help_documents_every_flag() -> None:
    result = run_robutler("serve", "--help", env=WIDE)
    assert result.returncode == 0
    for flag in SERVE_FLAGS:
        assert flag in result.stdout, flag
    assert "TARGET" in result.stdout or "target" in result.stdout


def test_demo_answers_agents_within_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    with robutler_serve(tmp_path=tmp_path) as server:
        response = httpx.get(f"{server.base_url}/agents", timeout=5)
        elapsed = time.monotonic() - started
        banner = server.stdout() + server.stderr()
    assert response.status_code == 200
    assert {agent["name"] for agent in response.json()["agents"]}
    assert elapsed < 10
    assert server.base_url in banner  # start-up says where it listens


def test_user_asgi_app_from_a_file(tmp_path: Path) -> None:
    app_file = tmp_path / "hello.py"
    app_file.write_text(
        textwrap.dedent(
            """
            async def app(scope, receive, send):
                if scope["type"] != "http":
                    return
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"hello user"})
            """
        )
    )
    with robutler_serve(f"{app_file}:app", tmp_path=tmp_path) as server:
        assert httpx.get(f"{server.base_url}/anything").text == "hello user"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "nosuchmodule_xyz:app"], "no module named 'nosuchmodule_xyz'"),
        (["serve", "robutler_monitoring:nothing_here"], "has no attribute 'nothing_here'"),
        (["serve", "robutler_monitoring:__version__"], "not an ASGI app"),
        (["serve", "--port", "70000"], "65535"),
        (["serve", "--workers", "0"], "--workers"),
        (["serve", "--log-level", "loud"], "loud"),
        (["serve", "--no-such-flag"], "No such option"),
        (["serve", "--config", "/nonexistent/robutler.yaml"], "does not exist"),
        (["serve", "--reload", "--workers", "2"], "cannot be used together"),
    ],
)
def test_bad_input_is_one_clear_error_without_traceback(args: list[str], expected: str) -> None:
    port = [] if "--port" in args else ["--port", str(free_port())]
    result = run_robutler(*args, *port, env=WIDE, timeout=30)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_port_in_use_is_one_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_robutler("serve", "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_is_reported_before_a_busy_port(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("monitoring:\n  metrics:\n    endpont: /m\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        config_error = run_robutler("serve", "--config", str(bad), "--port", port)
        target_error = run_robutler("serve", "nosuchmodule_xyz:app", "--port", port)
    assert config_error.returncode == 2
    assert "did you mean 'endpoint'" in config_error.stderr
    assert "no module named 'nosuchmodule_xyz'" in target_error.stderr


def test_two_workers_serve_the_demo(tmp_path: Path) -> None:
    with robutler_serve("--workers", "2", tmp_path=tmp_path) as server:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"{server.base_url}/agents", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    assert response.status_code == 200
