"""Histogram bucket boundaries, importable without prometheus_client (the config schema checks them)."""

from __future__ import annotations

#: Seconds; covers fast API calls up to long LLM completions. The request-duration and
#: time-to-first-byte histograms use them, so a latency SLO's bound must be one of them.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
