"""Known series start at 0: zero-valued children for labels known before the first request.

Prometheus's ``rate()`` and ``increase()`` need a sample before the first increase; a
series born at its first request hides that request. So at start-up each worker creates
the children for what the served app declares: its routes (with the closed set of request
outcomes, not every status code), its agents and their tools. Agents come from
``app.state.agents`` (the demo, apps built like it) and from the Robutler SDK agents
``robutler serve`` built the app for (without importing the SDK when none was served).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from ...events import OUTCOMES
from ...integrations.robutler_sdk import serving_if_used
from ..http.middleware import CLIENT_CLOSED, SERVER_CANCELLED
from ..http.routes import find_routes, flatten_routes
from .http_local import http_metrics
from .operations import OperationMetrics
from .registry import instruments_for

#: The status code each request outcome starts at (a 4xx or other code gets its series on first use).
OUTCOME_STATUS = {"success": 200, "error": 500, "client_closed": CLIENT_CLOSED, "cancelled": SERVER_CANCELLED}


@dataclass(frozen=True)
class KnownLabels:
    """Label values known before the first request.

    >>> KnownLabels(routes=(("GET", "/agents"),), agents=("assistant",)).agents
    ('assistant',)
    """

    routes: tuple[tuple[str, str], ...] = ()  #: (method, route template)
    agents: tuple[str, ...] = ()
    skills: tuple[tuple[str, str], ...] = ()  #: (skill, operation)
    tools: tuple[tuple[str, str], ...] = ()  #: (agent, tool) of ``robutler_tool_calls_total``
    models: tuple[tuple[str, str], ...] = ()  #: (agent, model) of the ``robutler_llm_*`` series


def discover(app: Any) -> KnownLabels:
    """Routes from the app's router; agents and tools from ``app.state.agents`` and served SDK agents."""
    agents, skills, tools, models = _agents_and_skills(app)
    serving = serving_if_used()  # imported only when SDK agents are served
    for served in serving.served_agents() if serving is not None else ():
        agents[served.name] = None
        tools.update(((served.name, tool), None) for tool in served.tools)
        if served.model:
            models[(served.name, served.model)] = None
    return KnownLabels(_routes(app), tuple(agents), tuple(skills), tuple(tools), tuple(models))


def preinitialise(registry: CollectorRegistry, known: KnownLabels) -> None:
    """Create the zero-valued children of ``known`` in the package's metrics of ``registry``."""
    http = instruments_for(registry, http_metrics)  # the factory the middleware uses
    series = [(OUTCOME_STATUS[outcome], outcome) for outcome in OUTCOMES]
    for method, route in known.routes:
        http.declare(method, route, series)
    operations = instruments_for(registry, OperationMetrics)
    for agent in known.agents:
        operations.agent_duration.labels(agent)
        for outcome in OUTCOMES:
            operations.agent_runs.labels(agent, outcome)
    for skill, operation in known.skills:
        operations.skill_duration.labels(skill, operation)
        for outcome in OUTCOMES:
            operations.skill_calls.labels(skill, operation, outcome)


def _routes(app: Any) -> tuple[tuple[str, str], ...]:
    routes = find_routes(app)
    if not routes:
        return ()
    out: dict[tuple[str, str], None] = {}
    for _, template, methods in flatten_routes(routes):
        if not methods:
            continue  # a mount or an any-method route: its series start at first use
        shown = sorted(methods - {"HEAD"}) or ["HEAD"]  # HEAD rides along with GET
        for method in shown:
            out[(method, template)] = None
    return tuple(out)


_Pairs = dict[tuple[str, str], None]  # an ordered set of label pairs


def _agents_and_skills(app: Any) -> tuple[dict[str, None], _Pairs, _Pairs, _Pairs]:
    """Agents, (skill, operation), (agent, tool) and (agent, model) of ``app.state.agents``."""
    found = _state_agents(app)
    agents: dict[str, None] = {}
    skills: _Pairs = {}
    tools: _Pairs = {}
    models: _Pairs = {}
    for agent in found:
        name = agent if isinstance(agent, str) else getattr(agent, "name", None)
        if isinstance(name, str) and name:
            agents[name] = None
            model = getattr(agent, "model", None)
            if isinstance(model, str) and model:
                models[(name, model)] = None
        for tool in _values(getattr(agent, "tools", None)):
            skill, method = getattr(getattr(tool, "skill", None), "name", None), getattr(tool, "method", None)
            if isinstance(skill, str) and isinstance(method, str):
                skills[(skill, method)] = None
            tool_name = getattr(tool, "name", None)
            if isinstance(name, str) and name and isinstance(tool_name, str) and tool_name:
                tools[(name, tool_name)] = None
    return agents, skills, tools, models


def _state_agents(app: Any) -> list[Any]:
    obj = app
    for _ in range(16):  # through wrappers, as find_routes does
        state = getattr(obj, "state", None)
        agents = getattr(state, "agents", None) if state is not None else None
        if agents is not None:
            return _values(agents)
        nxt = getattr(obj, "app", None)
        if nxt is None or nxt is obj:
            return []
        obj = nxt
    return []


def _values(container: Any) -> list[Any]:
    if isinstance(container, dict):
        return list(container.values())
    if isinstance(container, Iterable) and not isinstance(container, str | bytes):
        return list(container)
    return []
