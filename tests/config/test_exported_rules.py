"""The committed exported alert rules are what `robutler monitor alerts export` writes for the example."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from robutler_monitoring.plugin.alerts.cli import alerts_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "alerts-example.yaml"
RULES_FILE = ROOT / "config" / "prometheus" / "rules" / "robutler-alerts.yml"
PROMETHEUS_RULE = ROOT / "config" / "kubernetes" / "prometheusrule.yaml"
KUSTOMIZATION = ROOT / "config" / "kubernetes" / "kustomization.yaml"
REGENERATE = "robutler monitor alerts export --config config/alerts-example.yaml{flag} > {path}"


def export(*args: str) -> str:
    """What `robutler monitor alerts export --config config/alerts-example.yaml ARGS` prints."""
    clean = {name: None for name in os.environ if name.startswith("ROBUTLER_") or name == "SMTP_PASSWORD"}
    result = CliRunner().invoke(alerts_app, ["export", "--config", str(EXAMPLE), *args], env=clean)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(
    ("path", "args"),
    [(RULES_FILE, ()), (PROMETHEUS_RULE, ("--format", "prometheusrule"))],
    ids=["rules-file", "prometheusrule"],
)
def test_committed_exports_match_the_command(path: Path, args: tuple[str, ...]) -> None:
    flag = " " + " ".join(args) if args else ""
    regenerate = REGENERATE.format(flag=flag, path=path.relative_to(ROOT))
    assert path.exists(), f"missing {path.relative_to(ROOT)}; run: {regenerate}"
    assert path.read_text(encoding="utf-8") == export(*args), f"out of date; run: {regenerate}"


def test_the_exports_carry_the_example_rules_and_kustomize_applies_the_prometheusrule() -> None:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    names = {rule["alert"] for group in groups for rule in group["rules"]}
    assert {"HighErrorRate", "SlowResponses"} <= names  # the webhook's and the email's events
    assert any("Burn" in name or "SLO" in name or "Availability" in name for name in names), names
    operator = yaml.safe_load(PROMETHEUS_RULE.read_text(encoding="utf-8"))
    assert operator["kind"] == "PrometheusRule" and operator["spec"]["groups"] == groups
    assert PROMETHEUS_RULE.name in yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))["resources"]


@pytest.mark.slow  # runs promtool
@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (Debian package 'prometheus')")
def test_promtool_accepts_the_exported_rules() -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(RULES_FILE)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
