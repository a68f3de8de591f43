"""`instrument(app)` under plain uvicorn: the endpoints, metrics and usage of `robutler serve`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.polling import wait_until
from tests.support.servers import free_port, interrupt, wait_for_port

APP = textwrap.dedent(
    """
    from robutler_monitoring import instrument, record_llm_call

    async def chat(scope, receive, send):
        if scope["type"] != "http":
            return
        record_llm_call("gpt-4o-mini", input_tokens=1000, output_tokens=100, agent="plain")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = instrument(chat, config={"usage": {"prices": {"gpt-4o-mini": {"input": 1, "output": 10}}}})
    """
)


@pytest.mark.slow
def test_uvicorn_app_gets_the_monitoring(tmp_path: Path) -> None:
    (tmp_path / "plain_app.py").write_text(APP)
    port = free_port()
    log = (tmp_path / "uvicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "plain_app:app", "--port", str(port), "--app-dir", str(tmp_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for_port("127.0.0.1", port, timeout=60), (tmp_path / "uvicorn.log").read_text()
        base = f"http://127.0.0.1:{port}"
        reply = httpx.post(f"{base}/chat", timeout=10)
        assert reply.text == "ok" and reply.headers["x-request-id"]
        assert httpx.get(f"{base}/health", timeout=10).json()["status"] in ("pass", "healthy", "ok")

        def metrics() -> str:
            text = httpx.get(f"{base}/metrics", timeout=10).text
            cost = 'robutler_llm_cost_usd_total{agent="plain",model="gpt-4o-mini"} 0.002'
            request = 'robutler_http_requests_total{method="POST",route="<unmatched>",status="200"'
            return text if cost in text and request in text else ""

        wait_until(metrics, what="the request and the call's cost on /metrics")
        (record,) = httpx.get(f"{base}/usage", timeout=10).json()["records"]
        assert (record["cost_usd"], record["price_source"]) == (0.002, "config")
    finally:
        interrupt(proc)
        log.close()


def test_bad_config_names_the_key() -> None:
    from robutler_monitoring import instrument
    from robutler_monitoring.host import UsageError

    async def app(scope: object, receive: object, send: object) -> None:
        return None

    with pytest.raises(UsageError, match=r"usage\.max_label_values"):
        instrument(app, config={"usage": {"max_label_values": 0}})


def test_an_instrumented_app_is_an_asgi_3_app_to_servers_that_guess() -> None:
    """Plain uvicorn, gunicorn's worker, hypercorn and asgiref guess the interface from the app."""
    import asyncio

    import uvicorn

    from robutler_monitoring import instrument
    from robutler_monitoring.host.target import _is_asgi

    async def app(scope: object, receive: object, send: object) -> None:
        return None

    wrapped = instrument(app)
    assert asyncio.iscoroutinefunction(wrapped.__call__)  # type: ignore[operator]
    config = uvicorn.Config(wrapped, lifespan="on")
    config.load()
    assert config.interface == "asgi3"
    assert _is_asgi(wrapped)  # `robutler serve mod:app` takes it as TARGET
