"""From operations to priced, stored usage records: the request path hands over, a thread does the rest.

In the request path (an LLM or tool call ends) the recorder only appends the finished
operation to a deque (and reads the trace id, which lives in the request's context).
The writer thread builds the record, bumps the metrics, prices LLM calls
(:class:`~.cost.Pricer`), keeps the latest records in memory (``/usage``) and commits
them to the spool, when there is one. Record indexes within a request follow the order
in which its calls ended.

With a spool, a record is durable once its response has been fully sent: the request's
HTTP operation gets a :class:`~.hold.CommitTicket` and the HTTP wrapper holds the last
body message until the writer committed the request's records (at most ``commit_wait_s``).
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ...events import HttpRequest, LLMCall, Operation, ToolCall
from .caller import header_key
from .cost import Pricer, TokenCounts
from .hold import CommitGate, CommitTicket
from .metrics import UsageMetrics
from .records import llm_record, tool_record, trace_id
from .spool import Spool

_TRACE_MODULE = "opentelemetry.trace"

__all__ = ["UsageRecorder"]

Subscribe = Callable[..., Any]
_Pending = tuple[Operation, str | None, CommitTicket | None]


class UsageRecorder:
    """Usage records of the operations on a bus.

    >>> from prometheus_client import CollectorRegistry
    >>> from robutler_monitoring.events import EventBus, record_llm_call
    >>> bus = EventBus()
    >>> recorder = UsageRecorder(Pricer(), UsageMetrics(CollectorRegistry()))
    >>> recorder.subscribe(bus)
    >>> _ = record_llm_call("gpt-4o", input_tokens=1000, output_tokens=500, bus=bus)
    >>> recorder.flush()
    True
    >>> recorder.recent[-1]["cost_usd"]
    0.0075
    """

    def __init__(
        self,
        pricer: Pricer,
        metrics: UsageMetrics | None = None,
        *,
        spool_factory: Callable[[], Spool] | None = None,
        keep_recent: int = 10_000,
        max_pending: int = 100_000,
        on_error: Callable[[BaseException], None] | None = None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
        commit_wait_s: float = 1.0,
        on_commit_timeout: Callable[[], None] | None = None,
        caller_header: str | None = None,
    ) -> None:
        self.pricer = pricer
        self._caller_header = header_key(caller_header)  #: ``usage.caller_header``, as ASGI spells it
        self.metrics = metrics
        self._spool_factory = spool_factory
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep_recent)  #: the latest priced records
        self._pending: deque[_Pending] = deque(maxlen=max_pending)
        self._wake = threading.Event()
        self._stop = False
        self._idle = threading.Condition()
        self._handed = 0  #: records handed over by the request path
        self._written = 0  #: records the writer finished with
        self._thread: threading.Thread | None = None
        self._on_error = on_error
        self._on_record = on_record  #: each record once committed, in the writer thread (budgets)
        self.write_errors = 0
        #: responses wait for their records' commit (with a spool, while the writer runs)
        self.gate = (
            CommitGate(commit_wait_s, on_commit_timeout)
            if spool_factory is not None and commit_wait_s > 0
            else None
        )
        self._holding: CommitGate | None = None  # the gate, while the writer thread runs

    # -- the request path -------------------------------------------------------------------

    def subscribe(self, bus: Any) -> None:
        """Subscribe to the LLM and tool operations of ``bus`` (an EventBus or a Runtime)."""
        bus.subscribe("llm", on_end=self.hand_over)
        bus.subscribe("tool", on_end=self.hand_over)

    def hand_over(self, op: Operation) -> None:
        """An LLM or tool call ended: queue it for the writer thread (the request path)."""
        trace = op.trace_id  # set when the tracing concern records the operation's span
        if trace is None and _TRACE_MODULE in sys.modules:
            trace = trace_id()
        ticket = None
        gate = self._holding
        if gate is not None:
            root = op.parent
            if root is not None:
                while root.parent is not None:
                    root = root.parent
                if isinstance(root, HttpRequest) and root.outcome is None:  # its response is not over
                    hold = root.hold
                    if hold is None:
                        ticket = root.hold = gate.ticket()
                    elif isinstance(hold, CommitTicket):
                        ticket = hold
                    if ticket is not None:
                        ticket.handed += 1
        self._pending.append((op, trace, ticket))
        self._handed += 1
        if self._thread is None:
            self._write_batch()  # no writer thread (tests, tools): do it here
        elif not self._wake.is_set():  # set() takes a lock; the writer clears it before it drains
            self._wake.set()

    # -- the writer thread -----------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="robutler-usage-writer", daemon=True)
            self._thread.start()
            self._holding = self.gate

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is pending, then stop the writer thread."""
        self._holding = None
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop = True
            self._wake.set()
            thread.join(timeout)
        self._write_batch()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record handed over so far is written; False on timeout."""
        target = self._handed
        if self._thread is None:
            self._write_batch()
            return True
        self._wake.set()
        with self._idle:
            return self._idle.wait_for(lambda: self._written >= target, timeout)

    def _run(self) -> None:
        spool = self._spool_factory() if self._spool_factory is not None else None
        try:
            while True:
                self._wake.wait(0.5)
                self._wake.clear()
                self._write_batch(spool)
                if self._stop and not self._pending:
                    return
        finally:
            if spool is not None:
                spool.close()

    def _write_batch(self, spool: Spool | None = None) -> None:
        ops: list[_Pending] = []
        while self._pending:
            try:
                ops.append(self._pending.popleft())
            except IndexError:
                break
        if not ops:
            return
        batch = [record for record in (self._record(op, trace) for op, trace, _ in ops) if record is not None]
        self.recent.extend(batch)
        if spool is not None:
            try:
                spool.add(batch)
            except Exception as exc:  # a full disk must not stop the writer; the records stay in memory
                self.write_errors += 1
                if self._on_error is not None:
                    self._on_error(exc)
        self._recorded(batch)
        if self.gate is not None:  # committed (or failed: waiting longer would not help)
            tickets = [ticket for _, _, ticket in ops if ticket is not None]
            if tickets:
                self.gate.committed(tickets)
        with self._idle:
            self._written += len(ops)
            self._idle.notify_all()

    def _recorded(self, batch: list[dict[str, Any]]) -> None:
        # after the commit: a budget sync reading the totals in between would otherwise replace
        # the spend with totals that lack these records (at worst now, counted twice until the next read)
        if self._on_record is None:
            return
        for record in batch:
            try:
                self._on_record(record)
            except Exception as exc:
                self.write_errors += 1
                if self._on_error is not None:
                    self._on_error(exc)

    def _record(self, op: Operation, trace: str | None) -> dict[str, Any] | None:
        try:
            if isinstance(op, LLMCall):
                if self.metrics is not None:
                    self.metrics.llm_ended(op)
                record = llm_record(op, trace, self._caller_header)
                self._price(record)
            elif isinstance(op, ToolCall):
                if self.metrics is not None:
                    self.metrics.tool_ended(op)
                record = tool_record(op, trace, self._caller_header)
            else:
                return None
        except Exception as exc:  # one odd operation must not stop the writer
            self.write_errors += 1
            if self._on_error is not None:
                self._on_error(exc)
            return None
        return record

    def _price(self, record: dict[str, Any]) -> None:
        tokens = TokenCounts(
            input=record["prompt_tokens"],
            output=record["completion_tokens"],
            cache_read=record["cached_tokens"],
            cache_write=record["cache_write_tokens"],
        )
        try:
            priced = self.pricer.price(record["model"], tokens, provider=record.get("provider"))
        except Exception as exc:
            if self._on_error is not None:
                self._on_error(exc)
            return
        record["cost_usd"] = priced.cost_usd
        record["priced"] = priced.cost_usd is not None
        record["price_source"] = priced.source
        record["price_version"] = priced.version
        if self.metrics is not None:
            self.metrics.priced(record)
