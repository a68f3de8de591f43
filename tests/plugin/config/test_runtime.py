"""get_config(): the configuration of one `robutler serve` run, from its settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robutler_monitoring.host.errors import UsageError
from robutler_monitoring.host.plugins import get_plugin_manager, host_info
from robutler_monitoring.host.settings import ServeSettings
from robutler_monitoring.plugin.config.errors import ConfigError
from robutler_monitoring.plugin.config.runtime import RESOLVED, get_config, resolve


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """This process's environment without ROBUTLER_* variables, in an empty directory."""
    for name in list(os.environ):
        if name.startswith("ROBUTLER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_flags_from_settings_override_file_and_env(tmp_path: Path) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_text("monitoring:\n  logging:\n    level: WARNING\n    output: stderr\n")
    settings = ServeSettings(
        config_path=str(path),
        log_level="DEBUG",
        plugin_options={"log_format": "console", "access_log": False, "log_output": None},
    )
    resolved = resolve(settings, env={"ROBUTLER_LOG_FORMAT": "json"}, cwd=tmp_path)
    cfg, sources = resolved.config, resolved.sources
    assert (cfg.logging.level, sources["logging.level"]) == ("DEBUG", "flag --log-level")
    assert (cfg.logging.format, sources["logging.format"]) == ("console", "flag --log-format")
    assert (cfg.logging.access_log, sources["logging.access_log"]) == (
        False,
        "flag --no-access-log",
    )
    assert (cfg.logging.output, sources["logging.output"]) == ("stderr", f"{path}:4")


def test_robutler_yaml_in_the_working_directory_is_found(tmp_path: Path) -> None:
    (tmp_path / "robutler.yaml").write_text("monitoring:\n  metrics:\n    endpoint: /prom\n")
    resolved = resolve(ServeSettings(), env={}, cwd=tmp_path)
    assert resolved.config.metrics.endpoint == "/prom"
    assert resolved.path == tmp_path / "robutler.yaml"


def test_get_config_caches_in_its_slot(clean_env: Path) -> None:
    path = clean_env / "robutler.yaml"
    path.write_text("monitoring:\n  metrics:\n    endpoint: /prom\n")
    settings = ServeSettings()
    cfg = get_config(settings)
    assert cfg.metrics.endpoint == "/prom"
    resolved = RESOLVED.get(settings)
    assert resolved is not None and resolved.config is cfg
    assert resolved.sources["metrics.endpoint"] == "robutler.yaml:3"
    path.write_text("monitoring:\n  metrics:\n    endpoint: /changed\n")
    assert get_config(settings) is cfg  # read once per process


def test_bad_config_is_a_usage_error_listing_every_problem(clean_env: Path) -> None:
    bad = clean_env / "bad.yaml"
    bad.write_text("monitoring:\n  metrics:\n    collect_interval: -1\n  logging:\n    level: LOUD\n")
    with pytest.raises(UsageError) as info:
        get_config(ServeSettings(config_path=str(bad)))
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "bad.yaml:3: monitoring.metrics.collect_interval = -1: must be greater than 0" in message
    assert "bad.yaml:5: monitoring.logging.level = 'LOUD'" in message


def test_known_sections_come_from_the_installed_plugins() -> None:
    # No fallback: if the entry point of this package's plugin is not found, this fails.
    info = host_info(get_plugin_manager(warn=pytest.fail))
    assert "monitoring" in info.config_sections
    assert info.disabled_plugins == ()


def test_sections_handed_over_by_the_host_are_no_typo(tmp_path: Path) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_text("monitoring:\n  enabled: true\npayments:\n  currency: EUR\n")
    known = ServeSettings(config_path=str(path), config_sections=("monitoring", "payments"))
    assert resolve(known, env={}, cwd=tmp_path).config.enabled
    with pytest.raises(ConfigError, match="payments"):
        resolve(ServeSettings(config_path=str(path)), env={}, cwd=tmp_path)
