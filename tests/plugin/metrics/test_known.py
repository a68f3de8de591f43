"""Known series start at 0: routes, agents and tools of the served app before any request."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from robutler_monitoring.demo.app import create_demo_app
from robutler_monitoring.events import OUTCOMES
from robutler_monitoring.plugin.commands.samples import Samples
from robutler_monitoring.plugin.metrics.known import KnownLabels, discover, preinitialise


async def _ok(request: object) -> None:  # never called
    return None


class _Wrapper:
    """A middleware as the served app is wrapped in (``.app`` is the next one in)."""

    def __init__(self, app: object) -> None:
        self.app = app


def test_discover_finds_the_demo_routes_agents_and_tools_through_wrappers() -> None:
    app = create_demo_app()
    known = discover(_Wrapper(_Wrapper(app)))
    assert set(known.routes) == {
        ("GET", "/"), ("GET", "/agents"), ("GET", "/{agent}"), ("POST", "/{agent}/chat/completions"),
    }  # fmt: skip
    assert known.agents == ("assistant", "echo")
    assert set(known.skills) == {("calculator", "evaluate"), ("weather", "forecast")}
    assert set(known.tools) == {("assistant", "calculator"), ("assistant", "weather")}
    assert known.models == (("assistant", "demo-assistant-1"), ("echo", "demo-echo-1"))


def test_discover_expands_methods_and_skips_mounts_without_methods() -> None:
    app = Starlette(
        routes=[
            Route("/items", _ok, methods=["GET", "POST"]),
            Mount("/api", routes=[Route("/things/{id}", _ok, methods=["DELETE"])]),
        ]
    )
    assert set(discover(app).routes) == {
        ("GET", "/items"),
        ("POST", "/items"),
        ("DELETE", "/api/things/{id}"),
    }
    assert discover(object()) == KnownLabels()  # no router, no state: nothing is known


def test_preinitialise_creates_zero_valued_series() -> None:
    registry = CollectorRegistry()
    known = KnownLabels(
        routes=(("POST", "/{agent}/chat/completions"),),
        agents=("assistant",),
        skills=(("calculator", "evaluate"),),
    )
    preinitialise(registry, known)
    samples = Samples.collect(registry)
    chat = samples.select("robutler_http_requests_total")
    assert {(s.labels["status"], s.labels["outcome"]) for s in chat} == {
        ("200", "success"), ("500", "error"), ("499", "client_closed"), ("503", "cancelled"),
    }  # fmt: skip
    assert all(s.value == 0 and s.labels["route"] == "/{agent}/chat/completions" for s in chat)
    assert samples.total("robutler_http_request_duration_seconds_count") == 0
    assert samples.select("robutler_http_time_to_first_byte_seconds_count")
    assert samples.select("robutler_http_requests_in_progress")
    runs = samples.select("robutler_agent_executions_total")
    assert {s.labels["status"] for s in runs} == set(OUTCOMES) and all(s.value == 0 for s in runs)
    calls = samples.select("robutler_skill_calls_total")
    assert {(s.labels["skill"], s.labels["operation"]) for s in calls} == {("calculator", "evaluate")}
    assert samples.select("robutler_agent_execution_duration_seconds_count")
