"""A request head over the limit gets 431 and is never buffered, with httptools and with h11."""

from __future__ import annotations

import socket
import textwrap
import threading
from pathlib import Path

import httpx
import pytest

from robutler_monitoring.host import HostError, ServeSettings
from robutler_monitoring.host.headers import DEFAULT_MAX_HEADER_BYTES, check_uvicorn
from robutler_monitoring.plugin.config.runtime import resolve
from tests.support.servers import robutler_serve

ATTACK_BYTES = 24 * 1024 * 1024  # per connection; four of them would be ~100 MB held without a limit
CHUNK = b"a" * 65536


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")  # pragma: no cover


def _attack(port: int, outcomes: list[str]) -> None:
    """Send one request whose header never ends; record what the server did about it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sent = 0
        try:
            sock.sendall(b"GET /agents HTTP/1.1\r\nHost: x\r\nX-Big: ")
            while sent < ATTACK_BYTES:
                sock.sendall(CHUNK)
                sent += len(CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = sock.recv(200)
        except ConnectionResetError:
            answer = b""
    if answer.startswith(b"HTTP/1.1 431 "):
        outcomes.append("431")
    elif sent < ATTACK_BYTES:
        outcomes.append("closed")  # cut off before the server could have buffered it
    else:
        outcomes.append(f"accepted {answer[:40]!r}")


@pytest.mark.slow
@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_huge_headers_get_431_and_memory_stays_flat(tmp_path: Path, http: str) -> None:
    with robutler_serve("--http", http, tmp_path=tmp_path) as server:
        url = f"{server.base_url}/agents"
        below = httpx.get(url, headers={"x-fits": "b" * (DEFAULT_MAX_HEADER_BYTES - 4096)}, timeout=10)
        over = httpx.get(url, headers={"x-big": "b" * (DEFAULT_MAX_HEADER_BYTES + 1)}, timeout=10)
        before = _rss_kib(server.proc.pid)
        outcomes: list[str] = []
        threads = [threading.Thread(target=_attack, args=(server.port, outcomes)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        after = _rss_kib(server.proc.pid)
        still = httpx.get(url, timeout=10)
    assert below.status_code == 200
    assert over.status_code == 431 and over.headers["connection"] == "close"
    assert sorted(outcomes) == sorted(o for o in outcomes if o in ("431", "closed")) and len(outcomes) == 4
    assert "431" in outcomes
    assert after - before < 16 * 1024, f"RSS grew from {before} to {after} KiB"  # ~96 MB without a limit
    assert still.status_code == 200


@pytest.mark.slow
def test_the_limit_comes_from_the_config_file_and_reaches_every_worker(tmp_path: Path) -> None:
    config = tmp_path / "robutler.yaml"
    config.write_text(textwrap.dedent("monitoring:\n  server:\n    max_header_bytes: 2048\n"))
    with robutler_serve("--config", str(config), "--workers", "2", tmp_path=tmp_path, timeout=60) as server:
        url = f"{server.base_url}/agents"
        small = httpx.get(url, headers={"x-small": "b" * 1024}, timeout=10)
        over = httpx.get(url, headers={"x-big": "b" * 3000}, timeout=10)
    assert (small.status_code, over.status_code) == (200, 431)


def test_the_flag_wins_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "robutler.yaml"
    config.write_text("monitoring:\n  server:\n    max_header_bytes: 2048\n")
    resolved = resolve(ServeSettings(config_path=str(config), max_header_bytes=8192), env={}, cwd=tmp_path)
    assert resolved.config.server.max_header_bytes == 8192
    assert resolved.sources["server.max_header_bytes"] == "flag --max-header-bytes"
    from_file = resolve(ServeSettings(config_path=str(config)), env={}, cwd=tmp_path)
    assert from_file.config.server.max_header_bytes == 2048


def test_an_untested_uvicorn_is_refused_at_start_up() -> None:
    check_uvicorn()  # the installed one is a tested one
    for version in ("0.29.0", "1.0.0", "garbage"):
        with pytest.raises(HostError, match=f"uvicorn {version} is not supported.*uvicorn"):
            check_uvicorn(version)
