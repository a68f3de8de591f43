"""The demo server's HTTP layer: Starlette routes shaped like the Robutler SDK server."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from robutler_monitoring import register_cache, register_health_check
from robutler_monitoring.demo.agents import DemoAgent, DemoAgentError
from robutler_monitoring.demo.cache import LRUCache
from robutler_monitoring.demo.llm import FakeLLM, Message
from robutler_monitoring.demo.protocol import (
    ApiError,
    chunk_event,
    completion_body,
    parse_chat_request,
    sse,
)
from robutler_monitoring.demo.skills import CalculatorSkill, WeatherSkill

logger = logging.getLogger("robutler_monitoring.demo")


def create_demo_app(*, slow_seconds: float = 3.0, stream_delay: float = 0.05) -> Starlette:
    """The demo agent server, with fresh agents, skills and caches (``app.state``)."""
    for option, value in (("slow_seconds", slow_seconds), ("stream_delay", stream_delay)):
        if value < 0:
            raise ValueError(f"{option} must be >= 0, got {value!r}")
    weather_cache = LRUCache("weather", maxsize=128)
    register_cache("weather", weather_cache)  # robutler_cache_*{cache="weather"} on /metrics
    assistant = DemoAgent(
        "assistant",
        "Answers arithmetic and weather questions with its calculator and weather tools.",
        FakeLLM("demo-assistant-1"),
        [CalculatorSkill(), WeatherSkill(weather_cache)],
        slow_seconds=slow_seconds,
        stream_delay=stream_delay,
    )
    echo = DemoAgent(
        "echo",
        "Repeats the last user message.",
        FakeLLM("demo-echo-1", echo=True),
        slow_seconds=slow_seconds,
        stream_delay=stream_delay,
    )
    app = Starlette(
        routes=[
            Route("/", _server_info, methods=["GET"]),
            Route("/agents", _list_agents, methods=["GET"]),
            Route("/{agent}", _agent_info, methods=["GET"]),
            Route("/{agent}/chat/completions", _chat_completions, methods=["POST"]),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.agents = {agent.name: agent for agent in (assistant, echo)}
    agents = app.state.agents
    register_health_check(
        "agents:count",
        lambda: {"observedValue": len(agents), "status": "pass" if agents else "fail"},
        component_type="component",
    )
    app.state.caches = {weather_cache.name: weather_cache}
    return app


async def _server_info(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    endpoints = [f"{root}/agents", f"{root}/{{agent}}", f"{root}/{{agent}}/chat/completions"]
    body = {"name": "Robutler demo server", "agents": list(request.app.state.agents)}
    return JSONResponse({**body, "endpoints": endpoints})


async def _list_agents(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    agents = [agent.describe(root) for agent in request.app.state.agents.values()]
    counts = {"static_count": len(agents), "dynamic_count": 0, "total_count": len(agents)}
    return JSONResponse({"agents": agents, **counts})


async def _agent_info(request: Request) -> Response:
    return JSONResponse(_agent(request).describe(request.scope.get("root_path", "")))


async def _chat_completions(request: Request) -> Response:
    agent = _agent(request)
    messages, stream = parse_chat_request(await request.body())
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if stream:
        events = _events(agent, messages, completion_id, created)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    try:
        completion = await agent.run(messages)
    except DemoAgentError as exc:
        logger.error("agent %s failed: %s", agent.name, exc, exc_info=True, extra=_extra(agent))
        raise ApiError(500, str(exc), "agent_error") from exc
    return JSONResponse(completion_body(completion, completion_id, created))


async def _events(
    agent: DemoAgent, messages: list[Message], completion_id: str, created: int
) -> AsyncIterator[str]:
    first = True
    try:
        async for item in agent.stream(messages):
            yield chunk_event(completion_id, created, agent.llm.model, item, first=first)
            first = False
    except DemoAgentError as exc:
        # Headers are already sent: report the failure in-band and end the stream cleanly.
        logger.error("agent %s failed mid-stream: %s", agent.name, exc, exc_info=True, extra=_extra(agent))
        yield sse(ApiError(500, str(exc), "agent_error").body())
    yield sse("[DONE]")


def _agent(request: Request) -> DemoAgent:
    name = request.path_params["agent"]
    agent: DemoAgent | None = request.app.state.agents.get(name)
    if agent is None:
        raise ApiError(404, f"agent {name!r} not found", "not_found")
    return agent


def _extra(agent: DemoAgent) -> dict[str, str]:
    return {"agent": agent.name}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own 404 (no route) and 405 (wrong method), as JSON like every other error.
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error = ApiError(405, f"method not allowed: {where} (allowed: {allowed})", "method_not_allowed")
    elif exc.status_code == 404:
        error = ApiError(404, f"no route for {where}", "not_found")
    else:
        error = ApiError(exc.status_code, f"{exc.detail}: {where}")
    return JSONResponse(error.body(), error.status, headers=exc.headers)
