"""`robutler monitor status` against real servers: every output form and every exit code."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from robutler_monitoring.plugin.commands import status as status_module
from robutler_monitoring.plugin.commands.remote import Client, resolve_target
from tests.plugin.commands.support import chat, invoke
from tests.support.polling import wait_until
from tests.support.servers import ServeProcess, free_port, robutler_serve, run_robutler

TOKEN = "status-test-token"
FAILING_APP = """
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from robutler_monitoring import register_health_check

    register_health_check("database:ping", lambda: "fail")


    async def hello(request):
        return PlainTextResponse("hi")


    app = Starlette(routes=[Route("/", hello)])
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """The demo server with a token, shared by this module's tests."""
    tmp = tmp_path_factory.mktemp("status-demo")
    with robutler_serve(tmp_path=tmp, env={"ROBUTLER_MONITORING_TOKEN": TOKEN}, timeout=90) as server:
        yield server


def _status(server: ServeProcess, *args: str, token: str | None = TOKEN) -> tuple[int, str, str]:
    env = {"ROBUTLER_MONITORING_URL": server.base_url}
    if token is not None:
        env["ROBUTLER_MONITORING_TOKEN"] = token
    return invoke("monitor", "status", *args, env=env)


@pytest.mark.slow
def test_status_table_of_a_healthy_server(demo: ServeProcess) -> None:
    assert chat(demo.base_url, "What is 6 * 7?", count=2) == [200, 200]
    code, out, err = _status(demo)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert any(line.split() == ["status", "pass"] for line in lines), out
    assert any(line.split() == ["workers", "1"] for line in lines), out
    assert demo.base_url in out
    for title in ("Health checks", "Agents", "Skills"):
        assert title in out
    assert any("assistant" in line for line in lines)
    assert any("calculator" in line and "evaluate" in line for line in lines)
    assert "Traceback" not in out


@pytest.mark.slow
def test_status_json_counts_what_was_sent(tmp_path: Path) -> None:
    with robutler_serve(tmp_path=tmp_path, timeout=90) as server:
        assert chat(server.base_url, "hello", agent="echo", count=3) == [200] * 3
        assert chat(server.base_url, "fail now !error", agent="echo") == [500]
        code, out, err = invoke("monitor", "status", "--url", server.base_url, "--json", "--window", "0")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["url"] == server.base_url
    srv = doc["server"]
    assert (srv["status"], srv["workers"], srv["requests_in_flight"]) == ("pass", 1, 0)
    assert srv["error_rate_ratio"] == pytest.approx(1 / 4)  # one 500 of four app requests
    assert srv["request_rate_per_second"] > 0
    assert 0 < srv["latency_p50_seconds"] <= srv["latency_p95_seconds"] <= srv["latency_p99_seconds"]
    assert srv["ttfb_p50_seconds"] > 0
    assert srv["uptime_seconds"] > 0 and srv["memory_rss_bytes"] > 1024 * 1024
    assert srv["version"]
    [echo] = [row for row in doc["agents"] if row["agent"] == "echo"]
    assert (echo["executions"], echo["errors"]) == (4, 1)
    assert echo["input_tokens"] > 0 and echo["output_tokens"] > 0  # the demo reports its LLM calls
    assert {c["check"] for c in doc["checks"]} >= {"readiness", "uptime", "memory:rss", "eventloop:lag"}


@pytest.mark.slow
def test_status_shows_cost_per_agent_and_unpriced_tokens_apart(tmp_path: Path) -> None:
    # the assistant's model gets a price (USD per million tokens); the echo agent's stays unpriced
    config = tmp_path / "robutler.yaml"
    prices = {"demo-assistant-1": {"input": 2.0, "output": 8.0}}
    config.write_text(yaml.safe_dump({"monitoring": {"usage": {"prices": prices}}}), encoding="utf-8")
    with robutler_serve(tmp_path=tmp_path, env={"ROBUTLER_CONFIG": str(config)}, timeout=90) as server:
        assert chat(server.base_url, "What is 6 * 7?", count=2) == [200, 200]
        assert chat(server.base_url, "hello there", agent="echo") == [200]

        def counted() -> dict[str, dict[str, Any]]:  # usage is counted by a writer thread
            code, out, _ = invoke("monitor", "status", "--url", server.base_url, "--json", "--window", "0")
            rows = {row["agent"]: row for row in json.loads(out)["agents"]}
            done = code == 0 and rows["echo"]["unpriced_tokens"] and rows["assistant"]["cost_usd"]
            return rows if done else {}

        rows = wait_until(counted, timeout=30, what="cost and unpriced tokens in status --json")
        _, table, _ = invoke("monitor", "status", "--url", server.base_url)
    assistant, echo = rows["assistant"], rows["echo"]
    expected = (assistant["input_tokens"] * 2.0 + assistant["output_tokens"] * 8.0) / 1e6
    assert assistant["cost_usd"] == pytest.approx(expected, rel=1e-9)
    assert assistant["unpriced_tokens"] == 0
    assert echo["cost_usd"] is None  # unknown, not 0
    assert echo["unpriced_tokens"] == echo["input_tokens"] + echo["output_tokens"] > 0
    lines = table.splitlines()
    assert "cost (USD)" in table and "unpriced tokens" in table
    echo_line = next(line for line in lines if " echo " in line)
    assert f"+ {echo['unpriced_tokens']:,}" in echo_line and "$" not in echo_line
    assert f"${expected:,.6f}" in next(line for line in lines if " assistant " in line)


@pytest.mark.slow
def test_status_rates_over_a_window_see_traffic_during_it(demo: ServeProcess) -> None:
    import threading

    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            chat(demo.base_url, "What is 1 + 1?")

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        code, out, _ = _status(demo, "--json", "--window", "1.5")
    finally:
        stop.set()
        thread.join(timeout=30)
    doc = json.loads(out)
    assert code == 0
    assert doc["server"]["window_seconds"] >= 1.5
    assert doc["server"]["request_rate_per_second"] > 0


@pytest.mark.slow
def test_a_failing_health_check_exits_1(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(textwrap.dedent(FAILING_APP))
    with robutler_serve("failing.py:app", tmp_path=tmp_path, cwd=tmp_path, timeout=90) as server:
        code, out, err = invoke("monitor", "status", "--url", server.base_url)
        assert code == 1, out + err
        row = next(line for line in out.splitlines() if "database:ping" in line)
        assert "fail" in row
        code_json, out_json, _ = invoke("monitor", "status", "--url", server.base_url, "--json")
        assert code_json == 1 and json.loads(out_json)["server"]["status"] == "fail"
        quiet = invoke("monitor", "status", "--url", server.base_url, "--quiet")
        assert quiet == (1, "", "")


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_a_missing_or_wrong_token_exits_2(demo: ServeProcess, token: str | None) -> None:
    code, out, err = _status(demo, token=token)
    assert (code, out) == (2, "")
    assert err.startswith("Error: unauthorized: ") and err.count("\n") == 1, err
    assert ("rejected" in err) == (token is not None)
    assert _status(demo, "--quiet", token=token) == (2, "", "")


@pytest.mark.slow
def test_the_token_flag_overrides_the_environment(demo: ServeProcess) -> None:
    code, _, err = _status(demo, "--quiet", "--token", TOKEN, token="wrong")
    assert (code, err) == (0, "")


def test_a_server_that_is_down_exits_2_with_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = invoke("monitor", "status", "--url", url)
    assert (code, out) == (2, "")
    reason = "connection refused (is `robutler serve` running there?)"
    assert err == f"Error: cannot reach {url}/health/detailed: {reason}\n"
    assert invoke("monitor", "status", "--url", url, "--quiet") == (2, "", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "localhost:8000"], "--url = 'localhost:8000': expected an http:// or https:// URL"),
        (["5"], "SECONDS (5) is the refresh interval of --watch; add --watch"),
        (["--watch", "0"], "--watch 0: expected between 0.1 and 3600 seconds"),
        (["--json", "--quiet"], "--json, --watch and --quiet exclude each other"),
        (["--window", "-1"], "--window -1: expected between 0 and 60 seconds"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(args: list[str], message: str) -> None:
    code, out, err = invoke("monitor", "status", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"Error: {message}") and err.count("\n") == 1, err


def test_a_bad_config_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("monitoring:\n  server_url: nowhere\n")
    code, _, err = invoke("monitor", "status", "--config", str(tmp_path / "bad.yaml"))
    assert code == 2
    assert "monitoring.server_url = 'nowhere'" in err and "Traceback" not in err


@pytest.mark.slow
def test_watch_refreshes_with_sparklines(demo: ServeProcess, capsys: pytest.CaptureFixture[str]) -> None:
    looks = 0

    def sleep(seconds: float) -> None:
        nonlocal looks
        looks += 1
        if looks == 3:
            raise KeyboardInterrupt  # Ctrl-C after three looks
        chat(demo.base_url, "What is 2 + 2?", count=2)

    target = resolve_target(demo.base_url, TOKEN, None)
    with Client(target) as client:
        code = status_module._watch(client, 0.1, sleep=sleep)
    out = capsys.readouterr().out
    assert code == 0
    assert looks == 3
    assert any(spark in out for spark in "▁▂▃▄▅▆▇█")
    assert "request rate" in out and "latency p95" in out


@pytest.mark.slow
def test_the_installed_command_quiet_is_a_health_check(demo: ServeProcess) -> None:
    env = {"ROBUTLER_MONITORING_URL": demo.base_url, "ROBUTLER_MONITORING_TOKEN": TOKEN}
    done = run_robutler("monitor", "status", "--quiet", env=env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    down = run_robutler(
        "monitor", "status", env={"ROBUTLER_MONITORING_URL": f"http://127.0.0.1:{free_port()}"}
    )
    assert down.returncode == 2 and "Traceback" not in down.stderr
    assert down.stderr.startswith("Error: cannot reach")


@pytest.mark.slow
def test_status_of_a_server_with_metrics_off_shows_its_health(tmp_path: Path) -> None:
    env = {"ROBUTLER_MONITORING__METRICS__ENABLED": "false"}
    with robutler_serve(tmp_path=tmp_path, env=env, timeout=90) as server:
        code, out, err = invoke("monitor", "status", "--url", server.base_url, "--json", "--window", "0")
        dump = invoke("monitor", "metrics", "dump", "--url", server.base_url)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["server"]["status"] == "pass" and doc["server"]["workers"] is None
    assert "agents" not in doc
    assert dump[0] == 2 and "answered 404" in dump[2]
