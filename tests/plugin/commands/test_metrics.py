"""`robutler monitor metrics dump` against a real server in every format, and with --local."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from tests.plugin.commands.support import chat, invoke
from tests.support.servers import ServeProcess, free_port, robutler_serve

TOKEN = "dump-test-token"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """The demo server with a token and some traffic."""
    tmp = tmp_path_factory.mktemp("dump-demo")
    with robutler_serve(tmp_path=tmp, env={"ROBUTLER_MONITORING_TOKEN": TOKEN}, timeout=90) as server:
        assert chat(server.base_url, "What is 3 * 3?", count=3) == [200] * 3
        assert chat(server.base_url, "fail !error") == [500]
        yield server


def _dump(server: ServeProcess, *args: str) -> tuple[int, str, str]:
    env = {"ROBUTLER_MONITORING_URL": server.base_url, "ROBUTLER_MONITORING_TOKEN": TOKEN}
    return invoke("monitor", "metrics", "dump", *args, env=env)


def _chat_count(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], status: str) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "robutler_http_requests_total"
        and dict(labels).get("route") == "/{agent}/chat/completions"
        and dict(labels).get("status") == status
    )


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["prometheus", "openmetrics"])
def test_dump_text_formats_parse_and_hold_the_counts(demo: ServeProcess, fmt: str) -> None:
    code, out, err = _dump(demo, "--format", fmt)
    assert (code, err) == (0, "")
    parse = parse_openmetrics if fmt == "openmetrics" else parse_prometheus
    families = list(parse(out))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}
    assert _chat_count(samples, "200") == 3
    assert _chat_count(samples, "500") == 1
    assert samples[("robutler_workers", ())] == 1
    if fmt == "openmetrics":
        assert out.rstrip().endswith("# EOF")
    else:
        assert "# EOF" not in out and "_created" not in out


@pytest.mark.slow
def test_dump_json_is_one_object_per_sample(demo: ServeProcess) -> None:
    code, out, _ = _dump(demo, "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert all(set(row) == {"name", "labels", "value", "type"} for row in rows)
    chat_ok = [
        r for r in rows
        if r["name"] == "robutler_http_requests_total"
        and r["labels"].get("route") == "/{agent}/chat/completions" and r["labels"].get("status") == "200"
    ]  # fmt: skip
    assert sum(r["value"] for r in chat_ok) == 3 and all(r["type"] == "counter" for r in chat_ok)
    buckets = [r for r in rows if r["name"] == "robutler_http_request_duration_seconds_bucket"]
    assert buckets and all(r["type"] == "histogram" and "le" in r["labels"] for r in buckets)


@pytest.mark.slow
def test_dump_table_shows_histogram_quantiles(demo: ServeProcess) -> None:
    code, out, _ = _dump(demo, "--format", "table", "--filter", "robutler_http_request_duration*")
    assert code == 0
    header = next(line for line in out.splitlines() if "metric" in line)
    assert all(column in header for column in ("p50", "p95", "p99"))
    row = next(line for line in out.splitlines() if "route=/{agent}/chat/completions" in line)
    assert row.count(" ms") >= 3 or row.count(" s ") >= 1  # quantiles in readable units
    assert "_bucket" not in out  # buckets are folded into their quantiles
    assert "robutler_http_requests_total" not in out


@pytest.mark.slow
def test_dump_filter_keeps_only_matching_families(demo: ServeProcess) -> None:
    code, out, _ = _dump(demo, "--format", "json", "--filter", "robutler_agent_*")
    assert code == 0
    names = {row["name"] for row in json.loads(out)}
    assert names and all(name.startswith("robutler_agent_") for name in names)
    code, text, _ = _dump(demo, "--filter", "robutler_workers")
    assert code == 0
    assert [line for line in text.splitlines() if not line.startswith("#")] == ["robutler_workers 1.0"]


@pytest.mark.slow
def test_dump_needs_the_token(demo: ServeProcess) -> None:
    code, out, err = invoke("monitor", "metrics", "dump", "--url", demo.base_url)
    assert (code, out) == (2, "")
    assert err.startswith("Error: unauthorized:") and err.count("\n") == 1


def test_dump_of_a_server_that_is_down_exits_2() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = invoke("monitor", "metrics", "dump", "--url", url)
    assert (code, out) == (2, "")
    assert err.startswith(f"Error: cannot reach {url}/metrics")


@pytest.mark.parametrize("fmt", ["prometheus", "openmetrics", "json", "table"])
def test_dump_local_shows_what_this_package_exposes(fmt: str) -> None:
    code, out, err = invoke("monitor", "metrics", "dump", "--local", "--format", fmt)
    assert (code, err) == (0, "")
    if fmt == "prometheus":
        names = {f.name for f in parse_prometheus(out)}
        expected = {"robutler_http_requests", "robutler_http_request_duration_seconds", "robutler_workers"}
        assert expected | {"robutler_agent_executions", "robutler_errors", "process_cpu_seconds"} <= names
        assert {"robutler_budget_spent", "robutler_budget_limit", "robutler_usage_spool_records"} <= names
    elif fmt == "openmetrics":
        assert out.rstrip().endswith("# EOF")
        assert "# TYPE robutler_http_time_to_first_byte_seconds histogram" in out
    elif fmt == "json":
        rows = json.loads(out)
        assert any(r["name"] == "process_resident_memory_bytes" for r in rows)
    else:
        assert "process_resident_memory_bytes" in out


def test_dump_local_and_url_exclude_each_other() -> None:
    code, _, err = invoke("monitor", "metrics", "dump", "--local", "--url", "http://127.0.0.1:1")
    assert code == 2
    assert err.startswith("Error: --url and --local exclude each other")
