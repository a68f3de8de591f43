"""Every line a real `robutler serve` writes is one JSON object with the documented schema."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, robutler_serve, run_robutler

from .support import check_schema, robutler_serve_piped

pytestmark = pytest.mark.slow

CHAT = "/assistant/chat/completions"


def _chat(base: str, text: str, **body: Any) -> httpx.Response:
    payload = {"messages": [{"role": "user", "content": text}], **body}
    return httpx.post(base + CHAT, json=payload, timeout=15)


def _entries(text: str) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        entry = json.loads(line)  # every line, not only the ones we look for
        check_schema(entry)
        entries.append(entry)
    return entries


def test_every_line_of_a_run_is_schema_json(tmp_path: Path) -> None:
    with robutler_serve(tmp_path=tmp_path) as server:
        assert httpx.get(server.base_url + "/agents", timeout=5).status_code == 200
        assert _chat(server.base_url, "What is 6 * 7?").status_code == 200
        with httpx.stream(
            "POST", server.base_url + CHAT, timeout=15,
            json={"messages": [{"role": "user", "content": "hello there"}], "stream": True},
        ) as streamed:  # fmt: skip
            body = "".join(streamed.iter_text())
        assert body.rstrip().endswith("data: [DONE]")
        assert _chat(server.base_url, "please !error").status_code == 500
        assert _chat(server.base_url, "please !crash").status_code == 500
        assert server.stop() == 0
    entries = _entries(server.stdout())
    messages = [e["message"] for e in entries]
    by_logger = {e["logger"] for e in entries}
    assert any(server.base_url in m for m in messages if m.startswith("Serving"))  # the banner
    assert {"robutler_monitoring.host", "uvicorn.error", "robutler_monitoring.demo"} <= by_logger
    assert "Application startup complete." in messages
    assert any(m.startswith("Finished server process") for m in messages)  # flushed at exit
    completed = [e for e in entries if e["message"].startswith("agent assistant completed")]
    assert len(completed) == 2  # the plain and the streamed completion
    errors = [e for e in entries if "exception" in e]
    assert any(e["exception"]["type"].endswith("DemoAgentError") for e in errors)
    assert any(e["exception"]["type"].endswith("DemoCrash") for e in errors)
    for error in errors:
        assert error["level"] == "ERROR"
        assert "Traceback" not in error["message"]  # structured, not glued on
    assert "Traceback" not in server.stderr()
    assert not any(e["logger"] == "uvicorn.access" for e in entries)  # replaced by ours


def test_debug_level_from_the_environment(tmp_path: Path) -> None:
    with robutler_serve(tmp_path=tmp_path, env={"ROBUTLER_LOG_LEVEL": "DEBUG"}) as server:
        _chat(server.base_url, "What is 6 * 7?")
        server.stop()
    entries = _entries(server.stdout())
    debug = [e for e in entries if e["level"] == "DEBUG"]
    assert any(e["logger"] == "robutler_monitoring.logging" for e in debug)  # this package
    assert any(e["logger"] == "robutler_monitoring.demo" and "calls tool" in e["message"] for e in debug)


def test_info_level_hides_debug(tmp_path: Path) -> None:
    with robutler_serve(tmp_path=tmp_path) as server:
        _chat(server.base_url, "What is 6 * 7?")
        server.stop()
    assert not [e for e in _entries(server.stdout()) if e["level"] == "DEBUG"]


def test_unknown_level_is_a_configuration_error() -> None:
    # a free port: a server the user left running on 8000 must not turn this into "port in use"
    port = str(free_port())
    result = run_robutler("serve", "--port", port, env={"ROBUTLER_LOG_LEVEL": "LOUD"}, timeout=30)
    assert result.returncode == 2
    assert "ROBUTLER_LOG_LEVEL" in result.stderr and "LOUD" in result.stderr
    assert "Traceback" not in result.stderr


def test_console_format_is_for_people(tmp_path: Path) -> None:
    with robutler_serve("--log-format", "console", tmp_path=tmp_path) as server:
        _chat(server.base_url, "please !error")
        server.stop()
    out = server.stdout()
    assert not out.lstrip().startswith("{")
    assert "INFO     uvicorn.error Application startup complete." in out
    assert "ERROR    robutler_monitoring.demo agent assistant failed" in out
    assert "Traceback (most recent call last):" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes


def test_file_output_with_workers(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "robutler.log"
    with robutler_serve(
        "--workers", "2", "--log-output", str(log_file), tmp_path=tmp_path, timeout=60
    ) as server:
        for i in range(20):
            assert _chat(server.base_url, f"What is {i} + 1?").status_code == 200
        server.stop()
    assert "{" not in server.stdout()  # everything went to the file
    assert f"robutler: logging to {log_file}" in server.stderr()  # and the terminal says where
    entries = _entries(log_file.read_text())
    started = {e["message"] for e in entries if e["message"].startswith("Started server process")}
    assert len(started) == 2  # both workers log into the same file
    assert len([e for e in entries if e["message"].startswith("agent assistant completed")]) == 20


def test_bad_log_output_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    port = str(free_port())
    result = run_robutler("serve", "--port", port, "--log-output", str(blocker / "x.log"), timeout=30)
    assert result.returncode == 2
    assert "monitoring.logging.output" in result.stderr and str(blocker) in result.stderr
    assert "Traceback" not in result.stderr


def test_request_id_round_trip_and_access_record(tmp_path: Path) -> None:
    pytest.importorskip(
        "robutler_monitoring.plugin.http.middleware", reason="the monitoring middleware sets ids"
    )
    with robutler_serve(tmp_path=tmp_path) as server:
        agents = httpx.get(server.base_url + "/agents", headers={"X-Request-ID": "e2e-agents.1"}, timeout=5)
        chat = httpx.post(
            server.base_url + CHAT,
            json={"messages": [{"role": "user", "content": "What is 6 * 7?"}]},
            headers={"X-Request-ID": "e2e-chat"},
            timeout=15,
        )
        insane = httpx.get(server.base_url + "/agents", headers={"X-Request-ID": "no spaces; ok?"}, timeout=5)
        httpx.get(server.base_url + "/health", timeout=5)
        server.stop()
    assert agents.headers["x-request-id"] == "e2e-agents.1"
    assert chat.headers["x-request-id"] == "e2e-chat"
    generated = insane.headers["x-request-id"]
    assert generated != "no spaces; ok?" and len(generated) == 32
    entries = _entries(server.stdout())
    access = [e for e in entries if e["logger"] == "robutler.access"]
    assert [(e["path"], e["request_id"]) for e in access] == [
        ("/agents", "e2e-agents.1"),
        (CHAT, "e2e-chat"),
        ("/agents", generated),
    ]  # /health is skipped by default
    first = access[0]
    assert (first["method"], first["status"], first["message"]) == ("GET", 200, "GET /agents 200")
    assert first["duration_ms"] > 0 and first["client"].startswith("127.0.0.1:")
    assert "route" in first
    # a stdlib line from the app itself carries the id of its request
    completed = next(e for e in entries if e["message"].startswith("agent assistant completed"))
    assert completed["request_id"] == "e2e-chat"


def test_the_traceback_line_of_a_crashed_request_carries_its_request_id(tmp_path: Path) -> None:
    with robutler_serve(tmp_path=tmp_path) as server:
        crashed = httpx.post(
            server.base_url + CHAT,
            json={"messages": [{"role": "user", "content": "please !crash"}]},
            headers={"X-Request-ID": "crash-1"},
            timeout=15,
        )
        assert crashed.status_code == 500
        server.stop()
    entries = _entries(server.stdout())
    [traceback] = [e for e in entries if e["logger"] == "uvicorn.error" and "exception" in e]
    assert traceback["exception"]["type"].endswith("DemoCrash")
    assert traceback["request_id"] == "crash-1"


CRASHY = """
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route


async def crash(request: Request) -> None:
    raise RuntimeError("crashed on purpose: " + "x" * int(request.query_params["size"]))

app = Starlette(routes=[Route("/crash", crash, methods=["POST"])])
"""


def _crash(base: str, size: int) -> int:
    return httpx.post(f"{base}/crash?size={size}", timeout=30).status_code  # a new connection each


def test_workers_crashing_at_once_write_only_whole_lines_to_a_pipe(tmp_path: Path) -> None:
    # `robutler serve --workers 2 | log-shipper`: traceback lines of 6-24 KB, longer than
    # PIPE_BUF (the demo's `!crash` line is about 4 KB, depending on where Python lives)
    target = tmp_path / "crashy.py"
    target.write_text(CRASHY, encoding="utf-8")
    sizes = [3_000 + (i * 1_237) % 9_000 for i in range(16)]
    with robutler_serve_piped(f"{target}:app", "--workers", "2", read_pause=0.01) as server:
        workers: set[str] = set()
        with ThreadPoolExecutor(8) as pool:
            for _ in range(10):  # until both workers have crashed (the kernel picks the worker)
                assert set(pool.map(_crash, [server.base_url] * len(sizes), sizes)) == {500}
                # only whole lines: the reader may be in the middle of one that is still arriving
                lines = server.stdout().splitlines(keepends=True)
                access = [json.loads(ln) for ln in lines if ln.endswith("\n") and '"robutler.access"' in ln]
                # a generated request id starts with a prefix of the process that served it
                workers = {e["request_id"][:16] for e in access}
                if len(workers) == 2:
                    break
        assert server.stop() == 0
    assert len(workers) == 2
    entries = _entries(server.stdout())  # every line parses: none torn, none interleaved
    tracebacks = [e for e in entries if e["logger"] == "uvicorn.error" and "exception" in e]
    assert len(tracebacks) == len([e for e in entries if e["logger"] == "robutler.access"]) >= 16
    assert all(len(e["exception"]["traceback"]) > 4096 for e in tracebacks)
    assert "Traceback" not in server.stderr()
