"""Metrics of the operations on the event bus: agent runs and skill calls.

LLM and tool series (tokens, cost, calls) belong to the usage concern (``plugin/usage/metrics.py``).

Subscribers run in the producer's thread, in the request path: each only updates
label children it caches (labels are bounded: agent, skill and model names).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from ...events import AgentRun, Operation, SkillCall
from .errors import ErrorMetrics
from .http import DURATION_BUCKETS
from .registry import instruments_for

_TOKEN_KINDS = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cache_read", "cache_read_tokens"),
    ("cache_write", "cache_write_tokens"),
    ("reasoning", "reasoning_tokens"),
)


class OperationMetrics:
    """``robutler_agent_*`` and ``robutler_skill_*`` of one registry.

    >>> from prometheus_client import CollectorRegistry
    >>> from robutler_monitoring.events import EventBus, agent_run
    >>> bus, m = EventBus(), OperationMetrics(CollectorRegistry())
    >>> m.subscribe(bus)
    >>> with agent_run("assistant", bus=bus):
    ...     pass
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.agent_runs = Counter(
            "robutler_agent_executions",
            "Agent executions by agent and status.",
            ("agent", "status"),
            registry=registry,
        )
        self.agent_duration = Histogram(
            "robutler_agent_execution_duration_seconds",
            "Agent execution time, a full stream included.",
            ("agent",),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.skill_calls = Counter(
            "robutler_skill_calls",
            "Skill calls by skill, operation and status.",
            ("skill", "operation", "status"),
            registry=registry,
        )
        self.skill_duration = Histogram(
            "robutler_skill_duration_seconds",
            "Skill call time.",
            ("skill", "operation"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.errors = instruments_for(registry, ErrorMetrics)

    def subscribe(self, bus: Any) -> None:
        """Subscribe to the agent and skill operations of ``bus`` (an EventBus or a Runtime)."""
        bus.subscribe("agent", on_end=self.agent_ended)
        bus.subscribe("skill", on_end=self.skill_ended)

    def agent_ended(self, op: Operation) -> None:
        """Count one finished agent run."""
        assert isinstance(op, AgentRun)
        self.agent_runs.labels(op.name, op.outcome).inc()
        self.agent_duration.labels(op.name).observe(op.duration_s or 0.0)
        if op.outcome == "error" and op.error is not None:
            self.errors.count(op.error, "agent")

    def skill_ended(self, op: Operation) -> None:
        """Count one finished skill call."""
        assert isinstance(op, SkillCall)
        self.skill_calls.labels(op.name, op.operation, op.outcome).inc()
        self.skill_duration.labels(op.name, op.operation).observe(op.duration_s or 0.0)
        if op.outcome == "error" and op.error is not None:
            self.errors.count(op.error, "skill")
