"""`/metrics` speaks what the scraper asks for: OpenMetrics or text, gzip or not, and HEAD."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from robutler_monitoring.plugin.http.endpoints import metrics_endpoint
from robutler_monitoring.plugin.metrics.exposition import (
    CONTENT_TYPE,
    negotiate,
    render,
    render_openmetrics,
)
from tests.support.servers import run_asgi

# what Prometheus 2.x and 3.x send by default
PROMETHEUS_2 = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PROMETHEUS_3 = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter("reqs", 'Requests "quoted"\\ and\nlines', ["path"], registry=registry)
    requests.labels("/a").inc()
    requests.labels('/b"\n\\').inc(2, exemplar={"trace_id": "4bf92f3577b34da6"})
    latency = Histogram("latency_seconds", "Latency.", ["method"], registry=registry, unit="seconds")
    latency.labels("GET").observe(0.3, exemplar={"trace_id": "abc"})
    latency.labels("POST").observe(12)
    Info("build", "Build.", registry=registry).info({"version": "1.2"})
    Enum("state", "State.", states=["up", "down"], registry=registry)
    Gauge("temperature", "Temp.", registry=registry).set(-1.5e-7)
    return registry


_FIXED = _registry()


def _without_created(families: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for family in families:
        samples = [
            (s.name, s.labels, s.value, s.timestamp, s.exemplar)
            for s in family.samples
            if not s.name.endswith("_created")
        ]
        out.append((family.name, family.type, family.documentation, family.unit, samples))
    return out


def test_openmetrics_says_what_prometheus_clients_encoder_says() -> None:
    registry = _registry()
    ours = list(parse_openmetrics(render_openmetrics(registry).decode()))  # type: ignore[no-untyped-call]
    theirs_text = openmetrics.generate_latest(registry).decode()  # type: ignore[no-untyped-call]
    theirs = list(parse_openmetrics(theirs_text))  # type: ignore[no-untyped-call]
    assert _without_created(ours) == _without_created(theirs)
    assert not any(s.name.endswith("_created") for f in ours for s in f.samples)
    exemplars = [s.exemplar for f in ours for s in f.samples if s.exemplar is not None]
    assert [e.labels for e in exemplars] == [{"trace_id": "4bf92f3577b34da6"}, {"trace_id": "abc"}]
    assert render_openmetrics(registry).endswith(b"# EOF\n")


@pytest.mark.parametrize("accept", [PROMETHEUS_2, PROMETHEUS_3, "application/openmetrics-text"])
def test_prometheus_gets_openmetrics(accept: str) -> None:
    body, headers = negotiate(_FIXED, accept)
    content_type = dict(headers)[b"content-type"].decode()
    assert content_type.startswith("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert body == render_openmetrics(_FIXED)
    assert dict(headers)[b"content-length"] == str(len(body)).encode()


@pytest.mark.parametrize("accept", ["", "*/*", "text/plain", "text/plain;version=0.0.4", "application/json"])
def test_anyone_else_gets_the_text_format(accept: str) -> None:
    body, headers = negotiate(_FIXED, accept)
    assert dict(headers)[b"content-type"] == CONTENT_TYPE.encode()
    assert body == render(_FIXED)
    assert b"# EOF" not in body and b"trace_id" not in body  # no exemplars in the text format


def test_gzip_when_accepted() -> None:
    plain, plain_headers = negotiate(_FIXED, PROMETHEUS_2)
    packed, headers = negotiate(_FIXED, PROMETHEUS_2, "deflate, gzip;q=0.9")
    assert dict(headers)[b"content-encoding"] == b"gzip"
    assert gzip.decompress(packed) == plain
    assert dict(headers)[b"content-length"] == str(len(packed)).encode()
    assert b"content-encoding" not in dict(plain_headers)
    assert dict(headers)[b"vary"] == b"Accept, Accept-Encoding"
    assert b"content-encoding" not in dict(negotiate(_FIXED, "", "identity, br")[1])


@pytest.mark.slow
def test_promtool_accepts_the_text_format() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    registry = CollectorRegistry()
    Counter("requests", "Requests.", ["path"], registry=registry).labels("/a").inc()
    Histogram("latency_seconds", "Latency.", registry=registry).observe(0.2)
    body, _ = negotiate(registry, "text/plain;version=0.0.4")
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    assert list(parse_text(body.decode()))


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
@pytest.mark.parametrize("accept", [PROMETHEUS_3, "text/plain"])
def test_head_sends_the_headers_a_get_sends(accept: str, encoding: str) -> None:
    app = metrics_endpoint(lambda: _FIXED)
    headers = {"Accept": accept, "Accept-Encoding": encoding}
    with run_asgi(app, lifespan="off") as base, httpx.Client(base_url=base, timeout=10) as client:
        get = client.get("/metrics", headers=headers)
        head = client.head("/metrics", headers=headers)
    assert get.status_code == head.status_code == 200
    for name in ("content-type", "content-length", "content-encoding", "vary", "cache-control"):
        assert get.headers.get(name) == head.headers.get(name), name
    assert int(head.headers["content-length"]) == get.num_bytes_downloaded > 0
    assert head.content == b""
    assert (get.headers.get("content-encoding") == "gzip") is (encoding == "gzip")
    parse = parse_openmetrics if accept == PROMETHEUS_3 else parse_text
    assert {f.name for f in parse(get.text)} >= {"reqs", "latency_seconds", "temperature"}
