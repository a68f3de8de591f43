"""enable_tracing(): the documented call works, and without the extra it names the extra."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import robutler_monitoring
from robutler_monitoring.events import EventBus, agent_run, set_default_bus
from robutler_monitoring.plugin.tracing import api
from tests.support.otlp import otlp_receiver
from tests.support.servers import free_port


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EventBus]:
    import os

    for name in list(os.environ):
        if name.startswith(("ROBUTLER_", "OTEL_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    bus = EventBus()
    previous = set_default_bus(bus)
    yield bus
    set_default_bus(previous)
    api._api_args.clear()


def test_without_the_extra_enable_tracing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    with pytest.raises(ImportError) as caught:
        robutler_monitoring.enable_tracing(service_name="x")
    assert isinstance(caught.value, robutler_monitoring.TracingNotInstalledError)
    assert "pip install 'robutler-monitoring[tracing]'" in str(caught.value)


def test_bad_argument_names_key_and_value(clean_env: EventBus) -> None:
    with pytest.raises(ValueError, match=r"jaeger_endpoint = 'jaeger:14268'"):
        robutler_monitoring.enable_tracing(jaeger_endpoint="jaeger:14268")


@pytest.mark.slow
def test_documented_call_traces_to_the_mapped_endpoint(
    clean_env: EventBus, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    with otlp_receiver(port=port) as receiver:
        tracing = robutler_monitoring.enable_tracing(
            service_name="robutler-agent", jaeger_endpoint=f"http://127.0.0.1:{port}/api/traces"
        )
        try:
            with agent_run("assistant"):
                pass
            tracing.pipeline.processor.force_flush(10_000)
            spans = receiver.wait_for(lambda s: len(s) == 1)
        finally:
            tracing.shutdown()
    assert spans[0].name == "invoke_agent assistant"
    assert spans[0].service == "robutler-agent"
    out = capsys.readouterr().out
    assert f"sending OTLP/HTTP to http://127.0.0.1:{port}/v1/traces" in out
