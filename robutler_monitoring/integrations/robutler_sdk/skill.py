"""``MonitoringSkill``: monitoring added by listing a skill, for apps not served by ``robutler serve``.

    from robutler.agents.core.base_agent import BaseAgent
    from robutler_monitoring.integrations.robutler_sdk.skill import MonitoringSkill

    agent = BaseAgent(name="support", model="openai/gpt-4o-mini",
                      skills={"monitoring": MonitoringSkill()})

When the SDK initializes the skill (at the agent's first run) it instruments the agent
as ``robutler serve`` does (:func:`.instrument.instrument_agent`): that first run's LLM
and tool calls are recorded; its agent run is not (it had begun), every later one is.
The class is made on first use (importing this module does not import the SDK).
"""

from __future__ import annotations

import functools
from typing import Any

from ...events import EventBus
from .instrument import instrument_agent

__all__ = ["MonitoringSkill"]  # noqa: F822 - made on first use by __getattr__


@functools.cache
def _monitoring_skill() -> type:
    from robutler.agents.skills.base import Skill

    class MonitoringSkill(Skill):  # type: ignore[misc]
        """A skill whose only job is to instrument the agent it is added to."""

        def __init__(self, config: dict[str, Any] | None = None, *, bus: EventBus | None = None) -> None:
            super().__init__(config or {}, scope="all")
            self._bus = bus

        async def initialize(self, agent: Any) -> None:
            await super().initialize(agent)
            instrument_agent(agent, bus=self._bus)

    MonitoringSkill.__module__ = __name__
    return MonitoringSkill


def __getattr__(name: str) -> Any:
    if name == "MonitoringSkill":
        return _monitoring_skill()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
