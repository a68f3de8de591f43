"""Serving Robutler SDK agents: a ``BaseAgent`` (any subclass), a list of them, or a ``RobutlerServer``.

Objects are only checked against the SDK when a class in their hierarchy comes from
its modules, so serving a plain ASGI app never pays for importing it (the SDK pulls
in LiteLLM, several seconds).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from ...host.types import ASGIApp

_SDK = "robutler"


def _from_sdk(obj: Any) -> bool:
    # A user's ``class MyAgent(BaseAgent)`` lives in the user's module: look at every base.
    return any(cls.__module__.split(".", 1)[0] == _SDK for cls in type(obj).__mro__)


def is_sdk_object(obj: Any) -> bool:
    """True when ``obj`` (or every item of a list of them) is an object of the Robutler SDK."""
    if isinstance(obj, list | tuple):
        return bool(obj) and all(_from_sdk(item) for item in obj)
    return _from_sdk(obj)


def prepare_environment() -> None:
    """Before a user's module imports the SDK: keep its import off the network.

    LiteLLM, imported by the SDK, fetches a price list from the internet at import
    time unless told to use its bundled copy; a server start must not depend on that.
    Installed, ``robutler_monitoring_env.pth`` has set it already at interpreter start
    (paths that import the SDK's ``__init__`` before any module of ours need that); this
    covers a checkout run without installing.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


_served: list[Any] = []  # the RobutlerServers built in this process, for instrumenting


def served_servers() -> list[Any]:
    """The ``RobutlerServer`` objects :func:`sdk_app` served in this process (monitoring instruments them)."""
    return list(_served)


class ServedAgent(NamedTuple):
    """What is known of a served static agent before its first run."""

    name: str
    tools: tuple[str, ...]  #: the tools it registered (agent-level ``tools=[...]``, skill decorators)
    model: str | None  #: the model of its ``primary_llm`` skill


def llm_model(skill: Any) -> str | None:
    """The model an LLM skill is set to (``current_model``, else ``model``); None when it tells none."""
    model = getattr(skill, "current_model", None) or getattr(skill, "model", None)
    return str(model) if model else None


def served_agents() -> list[ServedAgent]:
    """Every static agent served in this process, with its tools and model.

    Tools a skill registers only when first initialized (inside the first run) are not
    known yet; their series start at their first call.
    """
    found: list[ServedAgent] = []
    for server in _served:
        for key, agent in (getattr(server, "static_agents", None) or {}).items():
            name = str(getattr(agent, "name", None) or key)
            tools = (
                str(config.get("name") or getattr(config.get("function"), "__name__", ""))
                for config in list(getattr(agent, "_registered_tools", None) or [])
                if isinstance(config, dict)
            )
            llm = (getattr(agent, "skills", None) or {}).get("primary_llm")
            found.append(ServedAgent(name, tuple(t for t in tools if t), llm_model(llm)))
    return found


def sdk_app(obj: Any) -> ASGIApp | None:
    """The ASGI app serving ``obj``: a ``BaseAgent`` (any subclass), a list of them, a ``RobutlerServer``."""
    prepare_environment()
    from robutler.agents.core.base_agent import BaseAgent
    from robutler.server.core.app import RobutlerServer, create_server

    if isinstance(obj, RobutlerServer):
        _served.append(obj)
        app: ASGIApp = obj.app
        return app
    agents = list(obj) if isinstance(obj, list | tuple) else [obj]
    if agents and all(isinstance(agent, BaseAgent) for agent in agents):
        server = create_server(agents=agents)
        _served.append(server)
        served: ASGIApp = server.app
        return served
    return None


def agent_for_path(path: str, route: str) -> str | None:
    """The served agent a request is for, from its path: ``/calculator/chat/completions`` -> ``calculator``.

    A static agent's name, or for a server with dynamic agents the segment its
    ``/{agent_name}/...`` route matched; None for the server's own paths (``/health``).
    """
    for server in _served:
        prefix = getattr(server, "url_prefix", "") or ""
        if not path.startswith(prefix + "/"):
            continue
        name = path[len(prefix) + 1 :].split("/", 1)[0]
        if name in (getattr(server, "static_agents", None) or {}):
            return name
        if name and "{agent_name}" in route and getattr(server, "dynamic_agents", None) is not None:
            return name
    return None


def health_fields() -> dict[str, Any]:
    """What the SDK's own ``/health`` tells about the served agents, for monitoring's health documents.

    Empty when no SDK server is served in this process (a plain ASGI app or the demo).
    """
    if not _served:
        return {}
    from importlib import metadata

    try:
        version = metadata.version(_SDK)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "agents_count": sum(len(getattr(s, "static_agents", None) or {}) for s in _served),
        "dynamic_agents_enabled": any(getattr(s, "dynamic_agents", None) is not None for s in _served),
        "sdk_version": version,
    }
