"""`robutler monitor config show|validate`, in-process and as the real command."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from robutler_monitoring.plugin.commands import monitor_app
from tests.support.plugins import install_plugin
from tests.support.servers import free_port, run_robutler

BAD = """
monitoring:
  metrics:
    endpont: /prom
    collect_interval: -1
  logging:
    level: LOUD
  alerts:
    webhooks:
      - url: "hooks.example.com"
"""

GOOD_WITH_SECRETS = """
monitoring:
  auth_token: "${MON_TOKEN}"
  email:
    smtp_host: smtp.example.com
    password: plain-file-secret
  alerts:
    webhooks:
      - url: "https://bot:url-secret@hooks.example.com/h?token=query-secret"
        headers: {Authorization: "Bearer header-secret"}
      - url: "https://hooks.slack.com/services/T0001/B0002/SlackPathSecret123"
"""
SECRETS = (
    "env-token-secret", "plain-file-secret", "url-secret", "query-secret", "header-secret",
    "SlackPathSecret123", "B0002",
)  # fmt: skip


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(monitor_app, name="monitor")
    return app


def _write(folder: Path, text: str, name: str = "robutler.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    # CliRunner sets these for the run only; ROBUTLER_* of the developer's shell must not leak in
    clean = {name: None for name in os.environ if name.startswith("ROBUTLER_")}
    result = CliRunner().invoke(_cli(), list(args), env={**clean, "COLUMNS": "300", **(env or {})})
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


# --- in process ---------------------------------------------------------------------------


def test_validate_ok(tmp_path: Path) -> None:
    path = _write(tmp_path, "monitoring:\n  metrics:\n    endpoint: /prom\n")
    code, out, err = _invoke("monitor", "config", "validate", str(path))
    assert code == 0
    assert out.strip() == f"OK: {path} is valid"
    assert err == ""


def test_validate_reports_every_problem_on_stderr_with_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, BAD)
    code, out, err = _invoke("monitor", "config", "validate", str(path))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0] == "Error: invalid configuration (4 problems):"
    assert [line.strip().split(": ")[0] for line in lines[1:]] == [
        f"{path}:3",
        f"{path}:4",
        f"{path}:6",
        f"{path}:9",
    ]
    assert "did you mean 'endpoint'?" in lines[1]
    assert "Traceback" not in err


def test_validate_missing_explicit_path_exits_2(tmp_path: Path) -> None:
    code, _, err = _invoke("monitor", "config", "validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml' does not exist" in err


def test_validate_checks_the_environment_too() -> None:
    code, _, err = _invoke(
        "monitor", "config", "validate", env={"ROBUTLER_MONITORING__METRICS__ENDPIONT": "/x"}
    )
    assert code == 2
    assert "did you mean 'ROBUTLER_MONITORING__METRICS__ENDPOINT'?" in err


def test_validate_uses_robutler_config_env(tmp_path: Path) -> None:
    path = _write(tmp_path, "monitoring: {}\n", "elsewhere.yaml")
    code, out, _ = _invoke("monitor", "config", "validate", env={"ROBUTLER_CONFIG": str(path)})
    assert code == 0
    assert out.strip() == f"OK: {path} is valid"


@pytest.mark.parametrize("fmt", ["table", "yaml", "json"])
def test_show_masks_every_secret(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path, GOOD_WITH_SECRETS)
    code, out, err = _invoke(
        "monitor", "config", "show", "--config", str(path), "--format", fmt,
        env={"MON_TOKEN": "env-token-secret"},
    )  # fmt: skip
    assert code == 0, err
    assert "***" in out
    assert "https://hooks.slack.com/***" in out  # the webhook's host stays readable
    for secret in SECRETS:
        assert secret not in out + err


def test_show_table_has_values_and_sources(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_WITH_SECRETS)
    code, out, _ = _invoke(
        "monitor", "config", "show", "--config", str(path),
        env={"MON_TOKEN": "t", "ROBUTLER_LOG_LEVEL": "debug"},
    )  # fmt: skip
    assert code == 0
    level_row = next(line for line in out.splitlines() if "logging.level" in line)
    assert "DEBUG" in level_row and "env ROBUTLER_LOG_LEVEL" in level_row
    host_row = next(line for line in out.splitlines() if "alerts.email.smtp_host" in line)
    assert "smtp.example.com" in host_row and f"{path}:4" in host_row
    endpoint_row = next(line for line in out.splitlines() if "metrics.endpoint" in line)
    assert "default" in endpoint_row


def test_show_json_is_machine_readable(tmp_path: Path) -> None:
    path = _write(tmp_path, "monitoring:\n  tracing:\n    service_name: shop\n")
    code, out, _ = _invoke("monitor", "config", "show", "-c", str(path), "-f", "json")
    assert code == 0
    document = json.loads(out)
    assert document["file"] == str(path)
    assert document["monitoring"]["tracing"]["service_name"] == "shop"
    assert document["sources"]["tracing.service_name"] == f"{path}:3"


def test_show_with_a_bad_file_exits_2_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, BAD)
    code, out, err = _invoke("monitor", "config", "show", "--config", str(path))
    assert code == 2
    assert "must be greater than 0" in err
    assert "Traceback" not in out + err


# --- the real `robutler` command ------------------------------------------------------------


@pytest.mark.slow
def test_robutler_monitor_config_validate_subprocess(tmp_path: Path) -> None:
    _write(tmp_path, BAD)
    bad = run_robutler("monitor", "config", "validate", cwd=tmp_path)
    assert bad.returncode == 2
    assert "robutler.yaml:4: monitoring.metrics.collect_interval = -1: must be greater than 0" in bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr

    _write(tmp_path, "monitoring:\n  enabled: true\n")
    good = run_robutler("monitor", "config", "validate", cwd=tmp_path)
    assert (good.returncode, good.stdout.strip()) == (0, "OK: robutler.yaml is valid")


@pytest.mark.slow
def test_robutler_monitor_config_show_subprocess(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_WITH_SECRETS)
    done = run_robutler(
        "monitor", "config", "show", "--config", str(path),
        env={"MON_TOKEN": "env-token-secret", "COLUMNS": "300"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{path}:4" in done.stdout
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr


@pytest.mark.slow
def test_robutler_serve_with_a_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = _write(tmp_path, BAD, "bad.yaml")
    # a free port: a server the user left running on 8000 must not turn this into "port in use"
    done = run_robutler("serve", "--config", str(bad), "--port", str(free_port()), timeout=60)
    assert done.returncode == 2
    assert f"{bad}:6: monitoring.logging.level = 'LOUD'" in done.stderr
    assert f"{bad}:3: monitoring.metrics.endpont: unknown key; did you mean 'endpoint'?" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.slow
def test_sections_of_installed_plugins_are_known(tmp_path: Path) -> None:
    _write(tmp_path, "monitoring: {}\npayments:\n  currency: EUR\n")
    without = run_robutler("monitor", "config", "validate", cwd=tmp_path)
    assert without.returncode == 2
    assert "robutler.yaml:2: payments: unknown section" in without.stderr

    site = install_plugin(
        tmp_path / "site",
        "robutler-payments",
        {
            "payments_plugin": """
                from robutler_monitoring.host.hookspecs import hookimpl

                @hookimpl
                def robutler_config_sections():
                    return ["payments"]
            """
        },
        {"payments": "payments_plugin"},
    )
    with_plugin = run_robutler("monitor", "config", "validate", cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert with_plugin.returncode == 0, with_plugin.stderr


@pytest.mark.slow
def test_a_disabled_plugin_is_never_imported_and_its_section_is_no_typo(tmp_path: Path) -> None:
    _write(tmp_path, "monitoring: {}\npayments:\n  currency: EUR\n")
    marker = tmp_path / "imported"
    site = install_plugin(
        tmp_path / "site",
        "robutler-payments",
        {
            "payments_plugin": f"""
                import pathlib

                pathlib.Path({str(marker)!r}).write_text("imported")  # a side effect of import
            """
        },
        {"payments": "payments_plugin"},
    )
    env = {"PYTHONPATH": str(site)}
    by_env = run_robutler(
        "monitor", "config", "validate", cwd=tmp_path, env={**env, "ROBUTLER_DISABLE_PLUGINS": "payments"}
    )
    by_flag = run_robutler(
        "--disable-plugin", "payments", "monitor", "config", "validate", cwd=tmp_path, env=env
    )
    assert by_env.returncode == 0, by_env.stderr
    assert by_flag.returncode == 0, by_flag.stderr
    assert not marker.exists()
    enabled = run_robutler("monitor", "config", "validate", cwd=tmp_path, env=env)
    assert marker.exists()  # the same plugin, enabled, is imported (and names no sections)
    assert enabled.returncode == 2 and "payments: unknown section" in enabled.stderr
