"""``robutler_llm_*`` and ``robutler_tool_*``: the metrics of usage.

Token, request and tool series are bumped in the request path (a cached child per
label tuple); cost and unpriced tokens by the usage writer thread once a call is priced.
Agent, model and tool names come from outside, so every metric caps its series
(:class:`~.labels.LabelCap`, ``monitoring.usage.max_label_values``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from ...events import OUTCOMES, LLMCall, ToolCall
from ..metrics.registry import multiprocess_dir
from .labels import LabelCap

__all__ = ["LLM_DURATION_BUCKETS", "TTFT_BUCKETS", "UsageMetrics"]

#: ``gen_ai.client.operation.duration``'s advised boundaries: 0.01 s doubling to 81.92 s
LLM_DURATION_BUCKETS = tuple(0.01 * 2**i for i in range(14))
#: ``gen_ai.server.time_to_first_token``'s advised boundaries
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TOOL_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Capped:
    """A metric family whose outside label values are capped; children cached."""

    __slots__ = ("cap", "children", "family")

    def __init__(self, family: Any, cap: LabelCap) -> None:
        self.family = family
        self.cap = cap
        self.children: dict[tuple[str, ...], Any] = {}

    def child(self, *values: str) -> Any:
        found = self.children.get(values)
        if found is None:
            found = self.children[values] = self.family.labels(*self.cap.labels(values))
        return found


class UsageMetrics:
    """The usage metrics of one registry.

    >>> from prometheus_client import CollectorRegistry
    >>> from robutler_monitoring.events import record_llm_call, EventBus
    >>> m = UsageMetrics(CollectorRegistry())
    >>> bus = EventBus()
    >>> _ = bus.subscribe("llm", on_end=m.llm_ended)
    >>> _ = record_llm_call("gpt-4o", input_tokens=10, output_tokens=3, agent="a", bus=bus)
    >>> m.tokens.family.labels("a", "gpt-4o", "input")._value.get()
    10.0
    """

    def __init__(self, registry: CollectorRegistry, max_label_values: int = 200) -> None:
        # a traced call leaves its trace id as an exemplar; multiprocess mode stores none
        self._exemplars = multiprocess_dir() is None
        self.refused = Counter(
            "robutler_metric_series_refused",
            "Recordings put under `other` because the metric reached monitoring.usage.max_label_values.",
            ("metric",),
            registry=registry,
        )
        refused = self.refused

        def capped(family: Any, outside: tuple[int, ...]) -> _Capped:
            name = family._name
            return _Capped(
                family,
                LabelCap(
                    name, max_label_values, outside=outside, on_refused=lambda m: refused.labels(m).inc()
                ),
            )

        r = registry
        self.tokens = capped(
            Counter(
                "robutler_llm_tokens",
                "LLM tokens by agent, model and type (input|output; input includes cached input).",
                ("agent", "model", "type"),
                registry=r,
            ),
            (0, 1),
        )
        self.cached_tokens = capped(
            Counter(
                "robutler_llm_cached_tokens",
                "The cached part of the input tokens, by kind (read|write).",
                ("agent", "model", "kind"),
                registry=r,
            ),
            (0, 1),
        )
        self.reasoning_tokens = capped(
            Counter(
                "robutler_llm_reasoning_tokens",
                "The reasoning part of the output tokens.",
                ("agent", "model"),
                registry=r,
            ),
            (0, 1),
        )
        self.cost = capped(
            Counter(
                "robutler_llm_cost_usd",
                "LLM cost in USD (priced calls only).",
                ("agent", "model"),
                registry=r,
            ),
            (0, 1),
        )
        self.unpriced_tokens = capped(
            Counter(
                "robutler_llm_unpriced_tokens",
                "Tokens of LLM calls whose model has no known price (their cost is null, not 0).",
                ("model",),
                registry=r,
            ),
            (0,),
        )
        self.requests = capped(
            Counter(
                "robutler_llm_requests",
                "LLM calls by agent, model and status.",
                ("agent", "model", "status"),
                registry=r,
            ),
            (0, 1),
        )
        self.duration = capped(
            Histogram(
                "robutler_llm_request_duration_seconds",
                "LLM call time, a full stream included (GenAI conventions' buckets).",
                ("agent", "model"),
                buckets=LLM_DURATION_BUCKETS,
                registry=r,
            ),
            (0, 1),
        )
        self.ttft = capped(
            Histogram(
                "robutler_llm_time_to_first_token_seconds",
                "Time to the first token of streamed LLM calls (GenAI conventions' buckets).",
                ("agent", "model"),
                buckets=TTFT_BUCKETS,
                registry=r,
            ),
            (0, 1),
        )
        self.tool_calls = capped(
            Counter(
                "robutler_tool_calls",
                "Tool calls by agent, tool and status.",
                ("agent", "tool", "status"),
                registry=r,
            ),
            (0, 1),
        )
        self.tool_duration = capped(
            Histogram(
                "robutler_tool_duration_seconds",
                "Tool call time.",
                ("agent", "tool"),
                buckets=TOOL_DURATION_BUCKETS,
                registry=r,
            ),
            (0, 1),
        )

    def declare_tools(self, tools: Iterable[tuple[str, str]]) -> None:
        """Known tools start at 0: every outcome of each (agent, tool), before its first call."""
        for agent, tool in tools:
            for outcome in OUTCOMES:
                self.tool_calls.child(agent, tool, outcome)
            self.tool_duration.child(agent, tool)

    def declare_models(self, models: Iterable[tuple[str, str]], priced: Callable[[str], bool]) -> None:
        """Known (agent, model) pairs start at 0: tokens, requests, latency, and cost or unpriced tokens."""
        for agent, model in models:
            for kind in ("input", "output"):
                self.tokens.child(agent, model, kind)
            for outcome in OUTCOMES:
                self.requests.child(agent, model, outcome)
            self.duration.child(agent, model)
            self.ttft.child(agent, model)
            if priced(model):
                self.cost.child(agent, model)
            else:
                self.unpriced_tokens.child(model)

    def llm_ended(self, op: Any) -> None:
        """Count one finished LLM call (request path)."""
        call: LLMCall = op
        agent, model = call.agent or "", call.model
        self.requests.child(agent, model, call.outcome or "").inc()
        trace_id = call.trace_id if self._exemplars else None
        if trace_id is not None:
            self.duration.child(agent, model).observe(call.duration_s or 0.0, {"trace_id": trace_id})
        else:
            self.duration.child(agent, model).observe(call.duration_s or 0.0)
        if call.ttft_s is not None:
            self.ttft.child(agent, model).observe(call.ttft_s)
        if call.input_tokens:
            self.tokens.child(agent, model, "input").inc(call.input_tokens)
        if call.output_tokens:
            self.tokens.child(agent, model, "output").inc(call.output_tokens)
        if call.cache_read_tokens:
            self.cached_tokens.child(agent, model, "read").inc(call.cache_read_tokens)
        if call.cache_write_tokens:
            self.cached_tokens.child(agent, model, "write").inc(call.cache_write_tokens)
        if call.reasoning_tokens:
            self.reasoning_tokens.child(agent, model).inc(call.reasoning_tokens)

    def tool_ended(self, op: Any) -> None:
        """Count one finished tool call (request path)."""
        call: ToolCall = op
        agent = call.agent or ""
        self.tool_calls.child(agent, call.name, call.outcome or "").inc()
        self.tool_duration.child(agent, call.name).observe(call.duration_s or 0.0)

    def priced(self, record: dict[str, Any]) -> None:
        """Count the cost (or the unpriced tokens) of one priced LLM record (writer thread)."""
        agent, model = record.get("agent") or "", record["model"]
        cost = record.get("cost_usd")
        if cost is not None:
            if cost:
                self.cost.child(agent, model).inc(cost)
        else:
            tokens = record.get("total_tokens") or 0
            self.unpriced_tokens.child(model).inc(tokens)
