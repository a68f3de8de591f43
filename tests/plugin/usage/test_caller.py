"""The caller on usage records: the operation's own, else the scope's user, else the configured header."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from starlette.authentication import SimpleUser, UnauthenticatedUser

from robutler_monitoring.events import EventBus, agent_run, record_llm_call, record_tool_call
from robutler_monitoring.plugin.config.schema import UsageConfig
from robutler_monitoring.plugin.http.middleware import MonitoringMiddleware
from robutler_monitoring.plugin.usage.caller import caller_of_scope
from robutler_monitoring.plugin.usage.service import UsageService


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (SimpleUser("alice"), "alice"),
        (UnauthenticatedUser(), "u-header"),  # not signed in: the header
        ({"sub": "bob"}, "bob"),
        ("carol", "carol"),
        (None, "u-header"),
    ],
)
def test_the_scopes_user_wins_over_the_header(user: Any, expected: str) -> None:
    scope: dict[str, Any] = {"headers": [(b"x-user-id", b" u-header ")]}
    if user is not None:
        scope["user"] = user
    assert caller_of_scope(scope, b"x-user-id") == expected


def test_no_header_configured_or_sent_is_no_caller() -> None:
    assert caller_of_scope({"headers": [(b"x-user-id", b"u-1")]}) is None
    assert caller_of_scope({"headers": []}, b"x-user-id") is None
    assert caller_of_scope({"headers": [(b"x-user-id", b"x" * 1000)]}, b"x-user-id") == "x" * 256


def _served(service: UsageService, bus: EventBus, headers: list[tuple[bytes, bytes]], work: Any) -> None:
    """One request through the HTTP wrapper and the usage wrapper, as `robutler serve` nests them."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        work()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "method": "POST", "path": "/a/chat/completions", "headers": headers}
    asyncio.run(MonitoringMiddleware(service.wrap(app), bus=bus)(scope, receive, send))


def test_records_carry_the_caller_and_it_is_never_a_label() -> None:
    registry = CollectorRegistry()
    service, bus = UsageService(UsageConfig(caller_header="X-User-Id"), registry), EventBus()
    service.subscribe(bus)

    def work() -> None:
        with agent_run("a", bus=bus):
            record_llm_call("gpt-4o-mini", input_tokens=10, output_tokens=2, bus=bus)
            record_tool_call("search", bus=bus)
            record_llm_call("gpt-4o-mini", input_tokens=1, caller="verified-user", bus=bus)

    _served(service, bus, [(b"x-user-id", b"u-42")], work)
    _served(service, bus, [], lambda: record_llm_call("gpt-4o-mini", input_tokens=1, bus=bus))
    assert service.recorder.flush()
    assert [(r["type"], r["caller"]) for r in service.recorder.recent] == [
        ("llm", "u-42"),
        ("tool", "u-42"),
        ("llm", "verified-user"),  # the integration's (an SDK auth skill's) wins
        ("llm", None),
    ]
    exposition = "\n".join(
        f"{s.name}{s.labels}" for m in registry.collect() for s in m.samples if m.name.startswith("robutler_")
    )
    assert "robutler_llm_tokens_total" in exposition and "u-42" not in exposition


def test_a_caller_header_that_is_no_header_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="expected an HTTP header name such as 'x-user-id'"):
        UsageConfig(caller_header="x user")


@pytest.mark.parametrize(
    "header", ["Authorization", "cookie", "Proxy-Authorization", "x-api-key", "X-Auth-Token"]
)
def test_a_caller_header_that_carries_credentials_is_refused(header: str) -> None:
    # its value would be stored verbatim in every record, in GET /usage and in the exports
    with pytest.raises(ValidationError, match=f"{header!r} carries credentials"):
        UsageConfig(caller_header=header)
