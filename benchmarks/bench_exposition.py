"""/metrics render time in both formats against prometheus_client's generate_latest; ratios from one run.

Run: ``.venv/bin/python benchmarks/bench_exposition.py`` (about half a minute).

The baseline is prometheus_client's text ``generate_latest`` with ``_created`` off
(``disable_created_metrics()``), the fairest comparison since our renderer leaves
``_created`` out. Series: labelled counters and histograms, like a real scrape (a
histogram child is 15 bucket lines plus count and sum, each counted as one series).
The target is at most 1.2x for our text and our OpenMetrics at 10k series.
"""

from __future__ import annotations

import gzip
import os
import sys
import time
from collections.abc import Callable

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

from robutler_monitoring.plugin.metrics.exposition import render, render_openmetrics

SIZES = (1_000, 10_000, 100_000)
TARGET = 1.2


def registry_of(series: int) -> CollectorRegistry:
    """Half the lines counters, half histogram lines (17 per labelled child)."""
    registry = CollectorRegistry()
    counter = Counter("bench_requests", "Requests.", ("route", "status"), registry=registry)
    histogram = Histogram("bench_latency_seconds", "Latency.", ("route", "method"), registry=registry)
    for i in range(series // 2):
        counter.labels(f"/r/{i % 1000}", str(200 + i // 1000)).inc(i)
    for i in range(max(1, series // 2 // 17)):
        histogram.labels(f"/r/{i % 1000}", f"M{i // 1000}").observe(i / 1000)
    return registry


def best_ms(fn: Callable[[CollectorRegistry], bytes], registry: CollectorRegistry, repeat: int) -> float:
    """The best of ``repeat`` timed calls (noise only slows), after one warm-up call."""
    fn(registry)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(registry)
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    prometheus_client.disable_created_metrics()  # the baseline without `_created`, as ours
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; best of N calls per size\n")
    print(f"{'series':>8}  {'generate_latest':>16}  {'ours text':>16}  {'ours OpenMetrics':>18}  "
          f"{'client OpenMetrics':>19}  {'gzip':>8}")  # fmt: skip
    verdicts = []
    for n in SIZES:
        registry = registry_of(n)
        repeat = 15 if n <= 10_000 else 3
        base = best_ms(generate_latest, registry, repeat)
        text = best_ms(render, registry, repeat)
        om = best_ms(render_openmetrics, registry, repeat)
        client_om = best_ms(openmetrics.generate_latest, registry, repeat)
        body = render_openmetrics(registry)
        start = time.perf_counter()
        gzip.compress(body, compresslevel=6)
        gz = (time.perf_counter() - start) * 1000
        print(
            f"{n:>8,d}  {base:13.1f} ms  {text:7.1f} ms {text / base:5.2f}x  "
            f"{om:9.1f} ms {om / base:5.2f}x  {client_om:10.1f} ms {client_om / base:5.2f}x  {gz:5.1f} ms"
        )
        if n == 10_000:
            verdicts = [("text", text / base), ("OpenMetrics", om / base)]
    lines = len(render(registry_of(10_000)).splitlines())
    print(f"\nAt 10k series ({lines:,d} text lines), target <= {TARGET}x generate_latest:")
    for name, ratio in verdicts:
        print(f"  ours {name:12s} {ratio:.2f}x  {'ok' if ratio <= TARGET else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
