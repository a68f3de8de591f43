"""A process that records usage and exports it, for the kill -9 test: prints each id once it is durable.

    python -m tests.support.usage_producer SPOOL_DIR URL COUNT

Records COUNT LLM calls (one request each) through the usage recorder with a spool and an
HTTP exporter, printing ``committed <id>`` after the writer committed it; then keeps
exporting until killed.
"""

from __future__ import annotations

import sys
import threading

from robutler_monitoring.events import EventBus, HttpRequest, record_llm_call
from robutler_monitoring.plugin.usage.cost import Pricer
from robutler_monitoring.plugin.usage.exporter import Exporter
from robutler_monitoring.plugin.usage.recorder import UsageRecorder
from robutler_monitoring.plugin.usage.sinks import HttpSink
from robutler_monitoring.plugin.usage.spool import Spool


def main(spool_dir: str, url: str, count: int) -> None:
    bus = EventBus()
    recorder = UsageRecorder(Pricer(library=False), spool_factory=lambda: Spool(spool_dir, sinks=("http",)))
    recorder.subscribe(bus)
    recorder.start()
    sink = HttpSink(url, source="test", headers={}, timeout=2.0)
    exporter = Exporter(
        lambda: Spool(spool_dir, sinks=("http",)),
        [sink],
        batch_size=7,
        idle_s=0.02,
        lease_s=0.5,
        max_backoff_s=0.3,
    )
    exporter.start()
    for _ in range(count):
        with HttpRequest("POST", "/chat", request_id="same-client-id", bus=bus):
            record_llm_call("m", input_tokens=3, output_tokens=1, bus=bus)
        recorder.flush()
        print("committed", recorder.recent[-1]["id"], flush=True)
    print("done", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
