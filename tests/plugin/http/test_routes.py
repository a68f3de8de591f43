"""Route templates before the app runs, inside nested routers: Starlette mounts, FastAPI include_router."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router

from robutler_monitoring.plugin.http.routes import UNMATCHED, RouteResolver


def _ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _label(resolver: RouteResolver, method: str, path: str) -> str:
    return resolver.prematch({"type": "http", "method": method, "path": path}, method)


def test_starlette_mounted_router_and_mounted_app() -> None:
    inner = Router(routes=[Route("/{agent}/chat/completions", _ok, methods=["POST"])])
    sub_app = Starlette(routes=[Route("/items/{id:int}", _ok)])
    app = Starlette(routes=[Mount("/v1", app=inner), Mount("/shop", app=sub_app)])
    resolver = RouteResolver(app)
    assert _label(resolver, "POST", "/v1/alice/chat/completions") == "/v1/{agent}/chat/completions"
    assert _label(resolver, "GET", "/shop/items/7") == "/shop/items/{id}"
    assert _label(resolver, "GET", "/elsewhere") == UNMATCHED


def test_fastapi_include_router_nested_and_prefixed() -> None:
    deep = APIRouter()

    @deep.get("/runs/{run_id}")
    def run(run_id: str) -> str:
        return run_id

    agents = APIRouter(prefix="/agents")

    @agents.post("/{agent_name}/chat/completions")
    def chat(agent_name: str) -> str:
        return agent_name

    agents.include_router(deep, prefix="/deep")
    app = FastAPI()
    app.include_router(agents, prefix="/v1")
    resolver = RouteResolver(app)
    chat_label = _label(resolver, "POST", "/v1/agents/bob/chat/completions")
    assert chat_label == "/v1/agents/{agent_name}/chat/completions"
    assert _label(resolver, "GET", "/v1/agents/deep/runs/42") == "/v1/agents/deep/runs/{run_id}"
    assert _label(resolver, "GET", "/v1/agents/nothing") == UNMATCHED


def test_a_route_added_to_an_included_router_later_is_found() -> None:
    router = APIRouter()
    app = FastAPI()
    app.include_router(router)
    resolver = RouteResolver(app)
    assert _label(resolver, "GET", "/late/x") == UNMATCHED

    @router.get("/late/{item}")  # as the SDK adds a dynamic agent's endpoints while serving
    def late(item: str) -> str:
        return item

    assert _label(resolver, "GET", "/late/x") == "/late/{item}"
