"""One precedence for tracing settings: enable_tracing() > flags > env (incl. OTEL_*) > file > defaults."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from robutler_monitoring.plugin.config.errors import ConfigError
from robutler_monitoring.plugin.config.loader import load_config
from robutler_monitoring.plugin.tracing.settings import (
    DEFAULT_ENDPOINT,
    TracingSettings,
    map_jaeger_endpoint,
    resolve,
)


def _settings(
    tmp_path: Path, yaml: str | None, env: dict[str, str], api: Mapping[str, object] | None = None
) -> TracingSettings:
    path = None
    if yaml is not None:
        path = tmp_path / "robutler.yaml"
        path.write_text(yaml)
    loaded = load_config(path, env=env)
    return resolve(loaded.config.tracing, loaded.sources, api)


def test_defaults_send_to_local_otlp(tmp_path: Path) -> None:
    s = _settings(tmp_path, None, {})
    assert (s.enabled, s.endpoint, s.sampler, s.sampling_ratio, s.capture_content) == (
        False, DEFAULT_ENDPOINT, "parentbased_traceidratio", 1.0, False,
    )  # fmt: skip
    assert s.endpoint_note is None


def test_legacy_jaeger_url_maps_to_the_same_hosts_otlp_port_with_one_line(tmp_path: Path) -> None:
    yaml = "monitoring:\n  tracing:\n    enabled: true\n    jaeger_endpoint: http://jaeger:14268/api/traces\n"
    s = _settings(tmp_path, yaml, {})
    assert s.endpoint == "http://jaeger:4318/v1/traces"
    assert s.endpoint_note is not None
    assert (
        "http://jaeger:14268/api/traces" in s.endpoint_note
        and "http://jaeger:4318/v1/traces" in s.endpoint_note
    )


def test_jaeger_mapping_rules() -> None:
    assert map_jaeger_endpoint("https://j.example.com:14268/api/traces") == (
        "https://j.example.com:4318/v1/traces",
        True,
    )
    assert map_jaeger_endpoint("http://[::1]:14268/api/traces") == ("http://[::1]:4318/v1/traces", True)
    assert map_jaeger_endpoint("http://jaeger:4318/v1/traces") == ("http://jaeger:4318/v1/traces", False)


def test_otel_variables_beat_the_file(tmp_path: Path) -> None:
    yaml = (
        "monitoring:\n  tracing:\n    service_name: from-file\n"
        "    jaeger_endpoint: http://jaeger:14268/api/traces\n    sampling_ratio: 0.5\n"
    )
    env = {
        "OTEL_SERVICE_NAME": "from-env",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=a%2Cb",
    }
    s = _settings(tmp_path, yaml, env)
    assert s.service_name == "from-env"
    assert s.endpoint == "http://collector:4318/v1/traces"  # env beats the file's jaeger_endpoint
    assert s.endpoint_note is None
    assert (s.sampler, s.sampling_ratio) == ("traceidratio", 0.25)
    assert dict(s.resource_attributes) == {"deployment.environment": "prod", "team": "a,b"}


def test_traces_endpoint_beats_base_endpoint_and_own_variable_beats_otel(tmp_path: Path) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces",
        "OTEL_SERVICE_NAME": "otel-name",
        "ROBUTLER_MONITORING__TRACING__SERVICE_NAME": "own-name",
    }
    s = _settings(tmp_path, None, env)
    assert s.endpoint == "http://traces:4318/v1/traces"
    assert s.service_name == "own-name"


def test_enable_tracing_arguments_beat_everything(tmp_path: Path) -> None:
    env = {"OTEL_SERVICE_NAME": "from-env", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:4318/v1/traces"}
    api = {"service_name": "robutler-agent", "jaeger_endpoint": "http://jaeger:14268/api/traces"}
    s = _settings(tmp_path, None, env, api)
    assert s.enabled
    assert s.service_name == "robutler-agent"
    assert s.endpoint == "http://jaeger:4318/v1/traces"
    assert s.endpoint_source == "enable_tracing()"


def test_bad_otel_values_are_named(tmp_path: Path) -> None:
    env = {"OTEL_TRACES_SAMPLER_ARG": "half", "OTEL_TRACES_SAMPLER": "sometimes"}
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, None, env)
    text = str(caught.value)
    assert "env OTEL_TRACES_SAMPLER_ARG: monitoring.tracing.sampling_ratio = 'half'" in text
    assert "env OTEL_TRACES_SAMPLER: monitoring.tracing.sampler = 'sometimes'" in text


def test_sampling_ratio_out_of_range_names_the_file_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, "monitoring:\n  tracing:\n    sampling_ratio: 2\n", {})
    assert "robutler.yaml:3: monitoring.tracing.sampling_ratio = 2" in str(caught.value)
