"""End to end through a real `robutler serve`: exact counts, bounded series, promtool, tokens, workers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.polling import wait_until
from tests.support.servers import robutler_serve

from .helpers import sample, series


def _sampled(body: bytes) -> bytes:
    """``body`` once the sampler's first round is in it, else ``b""``."""
    text = body.decode()
    seen = sample(text, "robutler_cache_size", cache="weather") is not None
    return body if seen and sample(text, "robutler_event_loop_lag_seconds") is not None else b""


def _with_cache_size(text: str) -> str:
    """``text`` once the sampler has seen the demo's one cached forecast, else ``""``."""
    return text if sample(text, "robutler_cache_size", cache="weather") == 1 else ""


pytestmark = pytest.mark.slow

TOKEN = "e2e-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHAT = "/assistant/chat/completions"
_PID_FILE = re.compile(r"_(\d+)\.db$")


def _chat(client: httpx.Client, text: str, **extra: object) -> httpx.Response:
    return client.post(CHAT, json={"messages": [{"role": "user", "content": text}], **extra})


def _env(**extra: str) -> dict[str, str]:
    return {"ROBUTLER_MONITORING__METRICS__COLLECT_INTERVAL": "0.2", **extra}


def test_exact_counts_bounded_series_and_token(tmp_path: Path) -> None:
    with (
        robutler_serve(tmp_path=tmp_path, env=_env(ROBUTLER_MONITORING_TOKEN=TOKEN)) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        for _ in range(3):
            assert client.get("/agents").status_code == 200
        assert client.get("/assistant").status_code == 200
        assert _chat(client, "What is 6 * 7?").status_code == 200
        assert _chat(client, "Weather in Paris?").status_code == 200
        assert _chat(client, "Weather in Paris?").status_code == 200  # a cache hit
        assert _chat(client, "!error").status_code == 500
        before = client.get("/metrics", headers=AUTH).text
        for i in range(1000):
            client.get(f"/unknown/{i}/path")
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/health/detailed").status_code == 401
        assert client.get("/health").status_code == 200
        text = wait_until(  # the sampler picks up the cache statistics on its next round
            lambda: _with_cache_size(client.get("/metrics", headers=AUTH).text), what="cache metrics sampled"
        )

    def requests(method: str, route: str, status: str) -> float | None:
        outcome = "error" if status.startswith("5") else "success"
        labels = {"method": method, "route": route, "status": status, "outcome": outcome}
        return sample(text, "robutler_http_requests_total", **labels)

    assert requests("GET", "/agents", "200") == 3
    assert requests("GET", "/{agent}", "200") == 1
    assert requests("POST", "/{agent}/chat/completions", "200") == 3
    assert requests("POST", "/{agent}/chat/completions", "500") == 1
    assert requests("GET", "<unmatched>", "404") == 1000
    new_series = len(series(text, "robutler_http_requests_total")) - len(
        series(before, "robutler_http_requests_total")
    )
    assert new_series <= 5  # 1,000 distinct paths, a handful of series (the unmatched one, /metrics 401s)
    assert sample(text, "robutler_agent_executions_total", agent="assistant", status="success") == 3
    assert sample(text, "robutler_agent_executions_total", agent="assistant", status="error") == 1
    assert (
        sample(text, "robutler_skill_calls_total", skill="weather", operation="forecast", status="success")
        == 2
    )
    assert sample(text, "robutler_cache_hits_total", cache="weather") == 1
    assert sample(text, "robutler_cache_misses_total", cache="weather") == 1
    assert sample(text, "robutler_cache_size", cache="weather") == 1
    assert sample(text, "robutler_errors_total", type="DemoAgentError", source="agent") == 1
    assert sample(text, "process_resident_memory_bytes") is not None
    assert sample(text, "robutler_event_loop_lag_seconds") is not None
    assert TOKEN not in text


def test_streamed_first_chunk_arrives_before_the_stream_ends(tmp_path: Path) -> None:
    with (
        robutler_serve(tmp_path=tmp_path, env=_env()) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        start = time.perf_counter()
        body = {"messages": [{"role": "user", "content": "Tell me the weather in Oslo and Rome"}]}
        with client.stream("POST", CHAT, json={**body, "stream": True}) as response:
            chunks = response.iter_raw()
            first = next(chunks)
            first_at = time.perf_counter() - start
            rest = b"".join(chunks)
            end_at = time.perf_counter() - start
        text = client.get("/metrics").text
    assert first.startswith(b"data: ") and rest.rstrip().endswith(b"data: [DONE]")
    assert end_at - first_at > 0.1  # the first chunk came well before the end
    labels = {"method": "POST", "route": "/{agent}/chat/completions"}
    duration = sample(text, "robutler_http_request_duration_seconds_sum", **labels)
    ttfb = sample(text, "robutler_http_time_to_first_byte_seconds_sum", **labels)
    assert duration is not None and ttfb is not None and duration > ttfb + 0.1
    assert sample(text, "robutler_agent_executions_total", agent="assistant", status="success") == 1


def test_promtool_finds_nothing_wrong_in_a_real_scrape(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: install the Debian package 'prometheus'")
        pytest.skip("promtool not installed (apt-get install prometheus); required when CI is set")
    with (
        robutler_serve(tmp_path=tmp_path, env=_env()) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        client.get("/agents")
        _chat(client, "What is 2 + 2?")
        _chat(client, "!error")
        client.get("/nothing/here/at/all")
        scrape = wait_until(  # after the sampler's first round: every family has its samples
            lambda: _sampled(client.get("/metrics").content), what="a sampled scrape"
        )
    result = subprocess.run(
        [promtool, "check", "metrics"], input=scrape, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    assert result.stdout.decode().strip() == "" and result.stderr.decode().strip() == ""


def _per_worker(mp_dir: Path, scratch: Path, name: str, **labels: str) -> dict[int, float]:
    """``name{labels}`` in each worker's own files: the parts that one scrape adds up."""
    pids = {int(found.group(1)) for f in mp_dir.glob("*.db") if (found := _PID_FILE.search(f.name))}
    counts: dict[int, float] = {}
    for pid in pids:
        alone = Path(tempfile.mkdtemp(dir=scratch))
        for f in mp_dir.glob(f"*_{pid}.db"):
            shutil.copy(f, alone / f.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts[pid] = registry.get_sample_value(name, labels) or 0.0
    return counts


def test_two_workers_add_up_in_one_scrape(tmp_path: Path) -> None:
    parent = tmp_path / "multiproc"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = _env(ROBUTLER_MONITORING__METRICS__MULTIPROCESS_DIR=str(parent))
    agents = {"method": "GET", "route": "/agents", "status": "200", "outcome": "success"}
    with robutler_serve("--workers", "2", tmp_path=tmp_path, env=env, timeout=60) as server:
        (mp_dir,) = parent.iterdir()  # one fresh directory for this start
        sent = 0
        # A fresh connection per request, so the kernel spreads them over both workers;
        # keep going until each worker's own files show that it served some.
        deadline = time.monotonic() + 30
        while True:
            for _ in range(10):
                assert httpx.get(server.base_url + "/agents", timeout=10).status_code == 200
            sent += 10
            per_worker = _per_worker(mp_dir, scratch, "robutler_http_requests_total", **agents)
            if sum(1 for n in per_worker.values() if n > 0) >= 2:
                break
            assert time.monotonic() < deadline, f"only one worker ever served /agents: {per_worker}"
        for _ in range(10):
            response = httpx.post(
                server.base_url + CHAT,
                json={"messages": [{"role": "user", "content": "What is 1 + 1?"}]},
                timeout=10,
            )
            assert response.status_code == 200
        scrapes = [httpx.get(server.base_url + "/metrics", timeout=10).text for _ in range(4)]
        per_worker = _per_worker(mp_dir, scratch, "robutler_http_requests_total", **agents)
        runs = _per_worker(
            mp_dir, scratch, "robutler_agent_executions_total", agent="assistant", status="success"
        )
    workers = [pid for pid, n in per_worker.items() if n > 0]
    assert len(workers) == 2 and server.proc.pid not in workers
    assert sum(per_worker.values()) == sent
    assert sum(runs.values()) == 10
    for text in scrapes:  # whichever worker answers, it reports the sum of both
        assert sample(text, "robutler_http_requests_total", **agents) == sent
        assert sample(text, "robutler_agent_executions_total", agent="assistant", status="success") == 10
        assert (
            sample(text, "robutler_http_requests_in_progress", method="GET", route="/metrics") == 1
        )  # only the scrape itself is in flight
    assert list(parent.iterdir()) == []  # removed at exit
