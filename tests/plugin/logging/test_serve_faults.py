"""A real `robutler serve` under the faults logging must survive: workers, SIGTERM, broken outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, robutler_command, robutler_serve, wait_for_port

from .support import check_schema

pytestmark = pytest.mark.slow


def _entries(text: str) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        entry = json.loads(line)
        check_schema(entry)
        entries.append(entry)
    return entries


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBUTLER_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {**env, "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("access", ["--access-log", "--no-access-log"])
def test_workers_write_one_access_record_per_request(tmp_path: Path, access: str) -> None:
    with robutler_serve("--workers", "2", access, tmp_path=tmp_path, timeout=60) as server:
        ids = [f"dup-{i}" for i in range(12)]
        for i, rid in enumerate(ids):
            path = "/health" if i % 3 == 0 else "/agents"  # probes too
            response = httpx.get(server.base_url + path, headers={"X-Request-ID": rid}, timeout=10)
            assert response.status_code == 200
        assert server.stop() == 0
    entries = _entries(server.stdout())
    assert not [e for e in entries if e["logger"] == "uvicorn.access"]  # never uvicorn's own line
    access_lines = [e for e in entries if e["logger"] == "robutler.access"]
    if access == "--no-access-log":
        assert access_lines == []
    else:
        # /health is skipped by default (access_log_skip_paths); every other request once
        assert sorted(e["request_id"] for e in access_lines) == sorted(ids[i] for i in range(12) if i % 3)


def _start(out: Path, port: int) -> subprocess.Popen[bytes]:
    argv = robutler_command("serve", "--host", "127.0.0.1", "--port", str(port))
    with out.open("wb") as fo:
        return subprocess.Popen(
            argv, stdout=fo, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env()
        )


def test_sigterm_loses_no_line_in_twenty_shutdowns(tmp_path: Path) -> None:
    # 20 servers, 5 at a time: each answers once, gets SIGTERM, and must have written its
    # last lines ("Application shutdown complete.", "Finished server process") before it died,
    # and the access record of that request, queued as values a moment before the signal
    runs = 20
    lost: list[str] = []
    for batch in range(runs // 5):
        started: list[tuple[subprocess.Popen[bytes], Path, int]] = []
        for i in range(5):
            port = free_port()
            out = tmp_path / f"run-{batch}-{i}.out"
            started.append((_start(out, port), out, port))
        for proc, out, port in started:
            assert wait_for_port("127.0.0.1", port, timeout=60), out.read_text()
            assert httpx.get(f"http://127.0.0.1:{port}/agents", timeout=10).status_code == 200
            proc.send_signal(signal.SIGTERM)
        for proc, out, _ in started:
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
            messages = [e["message"] for e in _entries(out.read_text())]
            if (
                "Application shutdown complete." not in messages
                or not any(m.startswith("Finished server process") for m in messages)
                or "GET /agents 200" not in messages
            ):
                lost.append(f"{out.name}: last lines {messages[-3:]}")
    assert lost == [], f"{len(lost)} of {runs} runs lost lines at shutdown: {lost}"


def _wait_for(fetch: Any, ok: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _dropped(base: str, reason: str) -> float:
    text = httpx.get(base + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f'robutler_log_lines_dropped_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return -1.0


def _logging_check(base: str) -> dict[str, Any]:
    checks = httpx.get(base + "/health/detailed", timeout=10).json()["checks"]
    found: list[dict[str, Any]] = checks.get("logging:output", [{}])
    return found[0]


def test_a_full_disk_is_counted_said_once_and_shown_in_health(tmp_path: Path) -> None:
    with robutler_serve("--log-output", "/dev/full", tmp_path=tmp_path) as server:
        for _ in range(5):
            assert httpx.get(server.base_url + "/agents", timeout=10).status_code == 200
        assert _wait_for(lambda: _dropped(server.base_url, "no_space"), lambda v: v >= 5) >= 5
        check = _wait_for(lambda: _logging_check(server.base_url), lambda c: c.get("status") == "warn")
        assert check["status"] == "warn" and "no_space" in check["output"], check
        assert httpx.get(server.base_url + "/health/detailed", timeout=10).json()["status"] == "warn"
        for _ in range(5):
            httpx.get(server.base_url + "/agents", timeout=10)
        server.stop()
    notices = [line for line in server.stderr().splitlines() if "log output failed" in line]
    assert len(notices) == 1 and "no space" in notices[0], server.stderr()  # once, not per line


def test_a_closed_stdout_pipe_is_counted_and_said_on_stderr(tmp_path: Path) -> None:
    # `robutler serve | head -1`: the reader goes away after the first line
    port = free_port()
    argv = robutler_command("serve", "--host", "127.0.0.1", "--port", str(port))
    err = tmp_path / "serve.err"
    with err.open("wb") as fe:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=fe, stdin=subprocess.DEVNULL, env=_env())
    assert proc.stdout is not None
    try:
        proc.stdout.readline()
        proc.stdout.close()  # head -1 exits
        assert wait_for_port("127.0.0.1", port, timeout=60), err.read_text()
        base = f"http://127.0.0.1:{port}"
        for _ in range(5):
            assert httpx.get(base + "/agents", timeout=10).status_code == 200
        assert _wait_for(lambda: _dropped(base, "broken_pipe"), lambda v: v >= 5) >= 5
        check = _wait_for(lambda: _logging_check(base), lambda c: c.get("status") == "warn")
        assert check["status"] == "warn", check
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    notices = [line for line in err.read_text().splitlines() if "log output failed" in line]
    assert len(notices) == 1 and "broken pipe" in notices[0], err.read_text()
