"""The evaluation loop of each worker: whoever holds the lock reads the counts, advances the rules, sends.

Every worker runs the loop; only the holder of the state directory's lock evaluates, so
with ``--workers N`` each state change is notified once. The holder writes the rule
state, the samples of the window and the channels' delivery state to the state file
after each evaluation; a worker that takes the lock over (its holder died) or a server
that restarts picks them up, so an incident that was notified is not notified again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry

from .delivery import ChannelWorker, Dispatcher
from .engine import Engine, Observation
from .metrics import AlertMetrics
from .payloads import AlertContext
from .rules import BUDGET_KINDS, BURN_KINDS, AlertPlan, Rule
from .senders import make_sender
from .spend import observe_budget, read_spend
from .state import EvaluatorLock, StatePaths, read_json, read_silences, write_json
from .window import Counts, History, error_ratio, p95_ms, read_counts, slow_ratio

HealthSource = Callable[[], Awaitable[str]]  # the detailed health's status: pass, warn or fail
STATE_VERSION = 1


class Evaluator:
    """Evaluate the plan's rules every tick while holding the lock; deliver what they decide."""

    def __init__(
        self,
        plan: AlertPlan,
        ctx: AlertContext,
        paths: StatePaths,
        *,
        registry_source: Callable[[], CollectorRegistry],
        metrics: AlertMetrics,
        health: HealthSource | None = None,
        skip_routes: tuple[str, ...] = (),
        queue_size: int = 1000,
        shutdown_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        dispatcher_factory: Callable[[Evaluator], Dispatcher] | None = None,
    ) -> None:
        self.plan = plan
        self.ctx = ctx
        self.paths = paths
        self.engine = Engine(plan)
        self.history = History(keep=max((r.window for r in plan.rules), default=0) + 2 * plan.interval)
        self.lock = EvaluatorLock(paths.lock)
        self.dispatcher: Dispatcher | None = None
        self._registry_source = registry_source
        self.metrics = metrics
        self._health = health
        self._skip = skip_routes
        self.queue_size = queue_size
        self._shutdown_timeout = shutdown_timeout
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._last_eval: dict[str, float] = {}
        self._dispatcher_factory = dispatcher_factory or _channel_dispatcher

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the loop in the background of this worker's event loop."""
        self._task = asyncio.create_task(self._loop(), name="robutler-alerts")

    async def stop(self) -> None:
        """Stop evaluating; give queued notifications a bounded time; let another process take over."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.dispatcher is not None:
            await asyncio.to_thread(self.dispatcher.close, self._shutdown_timeout)
            with contextlib.suppress(OSError):
                self._save()
        self.lock.release()

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("alerts: evaluation failed")
            await asyncio.sleep(self.plan.interval)

    # --- one evaluation ------------------------------------------------------------------------

    async def tick(self) -> bool:
        """Evaluate once if this process holds (or can take) the lock; True when it evaluated."""
        if not self.lock.held:
            if not self.lock.try_acquire():
                return False
            # off the loop: reading the state file and making HTTP clients (TLS contexts) take ms
            await asyncio.to_thread(self._take_over)
        now = self._clock()
        self.engine.silences = read_silences(self.paths)
        counts = await asyncio.to_thread(self._read_counts)
        self.history.add(now, counts)
        observations = await self._observe(now)
        notifications = self.engine.evaluate(now, observations)
        assert self.dispatcher is not None
        self.dispatcher.send(notifications)
        for name, st in self.engine.states.items():
            self.metrics.set_state(name, st.state)
        await asyncio.to_thread(self._save)
        return True

    def _read_counts(self) -> Counts:
        return read_counts(self._registry_source(), self._skip)

    async def _observe(self, now: float) -> dict[str, Observation]:
        out: dict[str, Observation] = {}
        health_status: str | None = None
        spend: dict[str, float] | None = None
        for rule in self.plan.rules:
            last = self._last_eval.get(rule.name)
            if last is not None and now - last < rule.interval - 0.5 * self.plan.interval:
                continue  # a rule with a longer interval than the tick waits its turn
            if rule.kind == "health":
                if self._health is None:
                    continue
                if health_status is None:
                    health_status = await self._health()
                out[rule.name] = Observation(health_status == "fail", 1.0 if health_status == "fail" else 0.0)
            elif rule.kind in BURN_KINDS:
                out[rule.name] = self._burn(rule, now)
            elif rule.kind in BUDGET_KINDS:
                if spend is None:
                    spend = await asyncio.to_thread(lambda: read_spend(self._registry_source()))
                seen = observe_budget(rule, spend)
                if seen is None:
                    continue  # no worker has read today's totals yet
                out[rule.name] = seen
            else:
                grown = self.history.increase(now, rule.window)
                if rule.kind == "error":
                    value = error_ratio(grown, rule.min_requests)
                    assert rule.threshold is not None
                    out[rule.name] = Observation(value is not None and value > rule.threshold, value)
                else:
                    value = p95_ms(grown, rule.min_requests)
                    assert rule.threshold is not None
                    out[rule.name] = Observation(value is not None and value > rule.threshold, value)
            self._last_eval[rule.name] = now
        return out

    def _burn(self, rule: Rule, now: float) -> Observation:
        """Both windows burn the error budget faster than ``rule.threshold`` times.

        The budget is the share of requests allowed to be bad: failed ones for availability,
        slower than ``rule.bound`` to the first byte for latency; the value is the long
        window's burn rate.
        """
        budget = 1.0 - rule.objective
        assert rule.threshold is not None

        def bad(window: float) -> float | None:
            grown = self.history.increase(now, window)
            if rule.kind == "latency_burn":
                return slow_ratio(grown, rule.bound, rule.min_requests)
            return error_ratio(grown, rule.min_requests)

        long, short = bad(rule.window), bad(rule.short_window)
        if long is None or short is None:
            return Observation(False, None if long is None else long / budget)
        limit = rule.threshold * budget
        return Observation(long > limit and short > limit, long / budget)

    # --- the state file ------------------------------------------------------------------------

    def _take_over(self) -> None:
        data = read_json(self.paths.state)
        if data.get("version") == STATE_VERSION:
            self.engine.restore(data)
            samples = []
            for t, raw in data.get("samples") or ():
                with contextlib.suppress(TypeError, ValueError):
                    samples.append((float(t), Counts.from_json(raw)))
            self.history = History(self.history.keep, samples)
        if self.dispatcher is None:
            self.dispatcher = self._dispatcher_factory(self)
            self.metrics.channels([c.name for c in self.plan.channels])
        logger.info("alerts: this process evaluates the rules ({} rule(s))", len(self.plan.rules))

    def snapshot(self) -> dict[str, Any]:
        """What the state file holds: rule states, silences, window samples, channel deliveries."""
        channels = self.dispatcher.status() if self.dispatcher else {}
        return {
            "version": STATE_VERSION,
            "saved_at": self._clock(),
            **self.engine.snapshot(),
            "samples": [[t, c.to_json()] for t, c in self.history.samples],
            "channels": {name: asdict(s) for name, s in channels.items()},
        }

    def _save(self) -> None:
        write_json(self.paths.state, self.snapshot())


def _channel_dispatcher(ev: Evaluator) -> Dispatcher:
    """One delivery thread per channel, failures reported back to the engine."""
    return Dispatcher(
        [
            ChannelWorker(
                channel,
                make_sender(channel, ev.ctx),
                queue_size=ev.queue_size,
                retries=channel.config.retries,
                on_failed=ev.engine.delivery_failed,
                on_delivered=ev.engine.delivery_succeeded,
                on_outcome=ev.metrics.notified,
            )
            for channel in ev.plan.channels
        ]
    )
