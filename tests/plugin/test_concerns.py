"""The concern registry: one list entry adds a concern that sees every operation of a real server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from robutler_monitoring.api.health import HealthCheck
from robutler_monitoring.events import EventBus
from robutler_monitoring.host.settings import ServeSettings
from robutler_monitoring.host.types import Receive, Scope, Send
from robutler_monitoring.plugin import commands, concerns, hooks
from robutler_monitoring.plugin.config.schema import MonitoringConfig
from robutler_monitoring.plugin.runtime import Runtime
from tests.plugin.recording_concern import PATH, RecordingConcern
from tests.support.servers import free_port, interrupt, wait_for_port

ROOT = Path(__file__).resolve().parents[2]

# `robutler serve` with the test concern added by one entry in the list, nothing else changed.
LAUNCHER = """
import sys
from robutler_monitoring.api.health import HealthCheck
from robutler_monitoring.host.types import Receive, Scope, Send
from robutler_monitoring.plugin import commands, concerns, hooks
concerns.CONCERNS.append("tests.plugin.recording_concern:RecordingConcern")
from robutler_monitoring.host.cli import main
sys.argv[0] = "robutler"
main()
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-c", LAUNCHER, "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        if not wait_for_port("127.0.0.1", port, timeout=30):
            raise RuntimeError((tmp_path / "serve.log").read_text())
        yield f"http://127.0.0.1:{port}"
    finally:
        interrupt(proc)
        log.close()


def _mine(events: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    """The starts and ends of the operations of one request, in the order they happened."""
    return [e for e in events if e["request_id"] == request_id]


def _tree(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(event, kind, parent kind) in order: the nesting as the concern saw it."""
    kinds = {e["id"]: e["kind"] for e in events if e["event"] == "start"}
    parents = {e["id"]: e["parent"] for e in events if e["event"] == "start"}
    return [(e["event"], e["kind"], kinds.get(parents[e["id"]], "-")) for e in events]


@pytest.mark.slow
def test_a_concern_in_the_list_sees_every_operation_of_the_demo_nested(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:
        answer = client.post(
            "/assistant/chat/completions",
            json={"messages": [{"role": "user", "content": "What is 6*7 and the weather in Paris?"}]},
        )
        assert answer.status_code == 200
        rid = answer.headers["x-request-id"]
        events = _mine(client.get(PATH).json(), rid)
    assert _tree(events) == [
        ("start", "http", "-"),
        ("start", "agent", "http"),
        ("start", "llm", "agent"),  # the model asks for the tools
        ("end", "llm", "agent"),
        ("start", "tool", "agent"),
        ("start", "skill", "tool"),  # the calculator skill runs inside its tool call
        ("end", "skill", "tool"),
        ("end", "tool", "agent"),
        ("start", "tool", "agent"),
        ("start", "skill", "tool"),
        ("end", "skill", "tool"),
        ("end", "tool", "agent"),
        ("start", "llm", "agent"),  # the model answers
        ("end", "llm", "agent"),
        ("end", "agent", "http"),
        ("end", "http", "-"),
    ]
    ends = [e for e in events if e["event"] == "end"]
    assert {e["outcome"] for e in ends} == {"success"}
    assert {e["agent"] for e in ends if e["kind"] != "http"} == {"assistant"}


@pytest.mark.slow
def test_a_streamed_answer_ends_only_after_its_stream(served: str) -> None:
    words = " ".join(f"w{i}" for i in range(60))  # echoed in 60 pieces, 50 ms apart: 3 s
    body = {"messages": [{"role": "user", "content": words}], "stream": True}
    with (
        httpx.Client(base_url=served, timeout=30) as client,
        client.stream("POST", "/echo/chat/completions", json=body) as response,
    ):
        rid = response.headers["x-request-id"]
        chunks = response.iter_raw()
        next(chunks)
        during = _mine(client.get(PATH).json(), rid)  # the request's ops have not ended yet
        rest = b"".join(chunks)
        assert b"[DONE]" in rest
    deadline = time.monotonic() + 10
    while True:
        after = _mine(httpx.get(f"{served}{PATH}").json(), rid)
        if any(e["kind"] == "http" and e["event"] == "end" for e in after) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    # While the client still reads the stream, the request and the agent run are open.
    assert [(e, k) for e, k, _ in _tree(during) if k in ("http", "agent")] == [
        ("start", "http"),
        ("start", "agent"),
    ]
    assert [(e, k) for e, k, _ in _tree(after)][-2:] == [("end", "agent"), ("end", "http")]
    assert {e["outcome"] for e in after if e["event"] == "end"} == {"success"}


def test_runtime_keeps_only_enabled_concerns_and_finds_them_by_type() -> None:
    class Off(RecordingConcern):
        def enabled(self, cfg: MonitoringConfig) -> bool:
            return False

    cfg = MonitoringConfig()
    rt = Runtime(ServeSettings(), cfg, bus=EventBus(), concerns=[RecordingConcern, Off])
    assert [type(c) for c in rt.concerns] == [RecordingConcern]
    assert rt.concern(RecordingConcern) is rt.concerns[0]
    off = Runtime(
        ServeSettings(), MonitoringConfig(enabled=False), bus=EventBus(), concerns=[RecordingConcern]
    )
    assert off.concerns == ()


def test_a_runtime_drops_its_subscriptions_when_it_closes() -> None:
    bus = EventBus()
    rt = Runtime(ServeSettings(), MonitoringConfig(), bus=bus, concerns=[RecordingConcern])
    rt.concerns[0].subscribe(rt)
    assert all(bus.has_subscribers(kind) for kind in ("http", "agent", "tool", "llm"))
    rt.close()
    assert not any(bus.has_subscribers(kind) for kind in ("http", "agent", "tool", "llm"))


def test_the_plugin_hooks_know_no_concern_by_name() -> None:
    source = (ROOT / "robutler_monitoring" / "plugin" / "hooks.py").read_text()
    assert "cfg.enabled" not in source and ".enabled(" not in source
    assert all(isinstance(entry, str) for entry in concerns.CONCERNS)


class _Extras(RecordingConcern):
    """A concern with a command, a health component and an endpoint, as alerts will have."""

    name = "extras"

    def commands(self, monitor: typer.Typer) -> None:
        @monitor.command("hello")
        def hello() -> None:
            """Say hello."""
            typer.echo("hello from a concern")

    def health_checks(self, rt: Runtime) -> list[HealthCheck]:
        return [HealthCheck("extras:channel", lambda: {"status": "warn", "output": "slow"})]


def test_a_concern_adds_a_command_a_health_component_and_a_protected_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(concerns, "CONCERNS", [_Extras, *concerns.CONCERNS])
    monkeypatch.setattr(commands, "monitor_app", typer.Typer(no_args_is_help=True))
    monkeypatch.setattr(hooks, "_COMMANDS_ADDED", set())
    monkeypatch.setenv("ROBUTLER_MONITORING__AUTH_TOKEN", "t0ken-for-tests")
    cli = typer.Typer()
    hooks.robutler_add_commands(cli)
    result = CliRunner().invoke(cli, ["monitor", "hello"])
    assert (result.exit_code, result.output) == (0, "hello from a concern\n")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    settings = ServeSettings()
    wrapped = hooks.robutler_asgi_wrapper(app, settings)
    assert wrapped is not None
    rt = Runtime.of(settings)
    try:

        async def calls() -> tuple[int, int, dict[str, Any]]:
            transport = httpx.ASGITransport(app=wrapped)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                bare = await client.get(PATH)
                auth = {"Authorization": "Bearer t0ken-for-tests"}
                ok = await client.get(PATH, headers=auth)
                detail = await client.get("/health/detailed", headers=auth)
            return bare.status_code, ok.status_code, detail.json()

        bare, ok, detail = asyncio.run(calls())
    finally:
        rt.close()
    assert (bare, ok) == (401, 200)  # a concern's endpoint is behind the bearer token
    assert detail["checks"]["extras:channel"][0]["status"] == "warn"
