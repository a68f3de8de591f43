"""The deployment files under config/ parse, agree with each other, and name only what exists.

Endpoints are checked against the configuration schema's defaults, flags against the real
`robutler serve --help`, and the Dockerfile's HEALTHCHECK command is run against a real server
(docker itself is not available here).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from robutler_monitoring.host.plugins import DISABLE_ENV
from robutler_monitoring.plugin.commands.metrics import local_registry
from robutler_monitoring.plugin.config.env import PREFIX, SHORTCUTS, read_env
from robutler_monitoring.plugin.config.schema import MonitoringConfig
from tests.support.servers import free_port, robutler_serve, run_robutler

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
DOCKERFILE = CONFIG / "docker" / "Dockerfile"
COMPOSE = CONFIG / "docker" / "docker-compose.yml"
KUBERNETES = CONFIG / "kubernetes"
PROMETHEUS_YML = CONFIG / "prometheus" / "prometheus.yml"
DASHBOARD = CONFIG / "grafana" / "robutler.json"
DEFAULTS = MonitoringConfig()


# --- what exists --------------------------------------------------------------------------


@cache
def serve_flags() -> frozenset[str]:
    """Every flag `robutler serve --help` lists."""
    done = run_robutler("serve", "--help", env={"COLUMNS": "250"})
    assert done.returncode == 0, done.stderr
    return frozenset(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", done.stdout))


def serve_argv_flags(argv: list[str]) -> dict[str, str | None]:
    """The flags of a `robutler serve ...` argv and their values."""
    assert argv[:2] == ["robutler", "serve"], argv
    flags: dict[str, str | None] = {}
    rest = argv[2:]
    for i, word in enumerate(rest):
        if word.startswith("--"):
            value = rest[i + 1] if i + 1 < len(rest) and not rest[i + 1].startswith("--") else None
            flags[word] = value
    return flags


def assert_known_flags(flags: dict[str, str | None]) -> None:
    unknown = set(flags) - serve_flags()
    assert not unknown, f"flags that `robutler serve` does not have: {sorted(unknown)}"


def assert_known_env(env: dict[str, str]) -> None:
    """ROBUTLER_* variables the configuration knows, with values it accepts."""
    known = [
        n for n in env if n in SHORTCUTS or n.startswith(PREFIX) or n in ("ROBUTLER_CONFIG", DISABLE_ENV)
    ]
    assert sorted(known) == sorted(env), f"unknown variables: {sorted(set(env) - set(known))}"
    _, problems = read_env(env)
    assert not problems, [str(p) for p in problems]


# --- Dockerfile -------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in dockerfile():
        if word == "ENV":
            for part in shlex.split(rest):
                key, _, value = part.partition("=")
                env[key] = value
    return env


def healthcheck_command() -> str:
    [rest] = [rest for word, rest in dockerfile() if word == "HEALTHCHECK"]
    options, sep, command = rest.partition("CMD ")
    assert sep, rest
    assert re.search(r"--timeout=\d+s", options) and re.search(r"--interval=\d+s", options)
    return command.strip()


def entrypoint() -> list[str]:
    [rest] = [rest for word, rest in dockerfile() if word == "ENTRYPOINT"]
    argv: list[str] = json.loads(rest)
    return argv


@pytest.mark.slow  # runs `robutler serve --help`
def test_dockerfile_runs_a_non_root_robutler_serve_with_draining() -> None:
    instructions = dockerfile()
    assert instructions[0][0] == "FROM" and re.fullmatch(r"python:3\.\d+-slim", instructions[0][1])
    [user] = [rest for word, rest in instructions if word == "USER"]
    assert user not in ("root", "0")
    flags = serve_argv_flags(entrypoint())
    assert_known_flags(flags)
    assert flags["--host"] == "0.0.0.0"
    assert float(flags["--drain-delay"] or 0) > 0
    [expose] = [rest for word, rest in instructions if word == "EXPOSE"]
    assert expose == flags["--port"] == "8000"
    assert ("STOPSIGNAL", "SIGTERM") in instructions
    assert docker_env()["ROBUTLER_MONITORING_URL"] == f"http://127.0.0.1:{flags['--port']}"
    assert_known_env({k: v for k, v in docker_env().items() if k.startswith("ROBUTLER_")})


def test_healthcheck_uses_the_status_command_and_maps_exit_2_to_1() -> None:
    command = healthcheck_command()
    assert "monitor status --quiet" in command
    assert command.endswith("|| exit 1")  # Docker reserves exit code 2


def _run_healthcheck(url: str, extra_env: dict[str, str] | None = None, importtime: bool = False) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBUTLER_")}
    env.update(docker_env())
    env["ROBUTLER_MONITORING_URL"] = url  # the container's port 8000, here a free port
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra_env or {})
    if importtime:
        env["PYTHONPROFILEIMPORTTIME"] = "1"
    sh = shutil.which("sh")
    assert sh
    return subprocess.run(
        [sh, "-c", healthcheck_command()], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.slow
def test_the_healthcheck_command_works_against_a_real_server(tmp_path: Path) -> None:
    token = "hc-token"
    with robutler_serve(tmp_path=tmp_path, env={"ROBUTLER_MONITORING_TOKEN": token}, timeout=90) as server:
        healthy = _run_healthcheck(server.base_url, {"ROBUTLER_MONITORING_TOKEN": token}, importtime=True)
        assert (healthy.returncode, healthy.stdout) == (0, ""), healthy.stderr[-2000:]
        imported = re.findall(r"\|\s+(\S+)\s*$", healthy.stderr, re.MULTILINE)
        assert "robutler_monitoring.plugin.commands.status" in imported
        sdk = [m for m in imported if m.split(".")[0] in ("robutler", "litellm")]
        assert not sdk, f"the health check imported the Robutler SDK: {sdk[:5]}"

        wrong = _run_healthcheck(server.base_url, {"ROBUTLER_MONITORING_TOKEN": "nope"})
        assert (wrong.returncode, wrong.stdout, wrong.stderr) == (1, "", "")  # 2 becomes 1
    down = _run_healthcheck(f"http://127.0.0.1:{free_port()}")
    assert (down.returncode, down.stdout, down.stderr) == (1, "", "")


# --- docker compose -----------------------------------------------------------------------


def test_compose_brings_up_the_server_and_its_monitoring_stack() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert set(services) == {"robutler", "prometheus", "alertmanager", "grafana"}
    build = services["robutler"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert services["robutler"]["ports"] == ["8000:8000"]
    grace = int(services["robutler"]["stop_grace_period"].rstrip("s"))
    assert grace > float(serve_argv_flags(entrypoint())["--drain-delay"] or 0)
    environment = services["robutler"].get("environment", {})
    assert_known_env({k: str(v) for k, v in environment.items() if k.startswith("ROBUTLER_")})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (COMPOSE.parent / source).exists(), f"{name}: {source} does not exist"
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"]}
    config_flag = next(c for c in services["prometheus"]["command"] if c.startswith("--config.file="))
    assert config_flag.split("=", 1)[1] in mounted


# --- Prometheus ----------------------------------------------------------------------------


def test_prometheus_config_scrapes_the_compose_service() -> None:
    doc = yaml.safe_load(PROMETHEUS_YML.read_text())
    [job] = doc["scrape_configs"]
    assert job["metrics_path"] == DEFAULTS.metrics.endpoint
    assert job["static_configs"][0]["targets"] == ["robutler:8000"]
    [alertmanagers] = doc["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"][0]["targets"] == ["alertmanager:9093"]
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "9093:9093" in compose["alertmanager"]["ports"]


@pytest.mark.slow  # runs promtool
@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (Debian package 'prometheus')")
def test_promtool_accepts_the_config_and_rules() -> None:
    config = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", str(PROMETHEUS_YML)], capture_output=True, text=True
    )
    assert config.returncode == 0, config.stdout + config.stderr
    rules = sorted((CONFIG / "prometheus" / "rules").glob("*.yml"))
    assert rules
    checked = subprocess.run(["promtool", "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- Kubernetes ----------------------------------------------------------------------------


def kubernetes() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[doc["kind"]] = doc
    return docs


def test_kubernetes_files_parse_and_list_each_other() -> None:
    docs = kubernetes()
    assert {"Deployment", "Service", "ServiceMonitor", "Kustomization"} <= set(docs)
    listed = set(docs["Kustomization"]["resources"])
    assert listed == {p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml"}


@pytest.mark.slow  # runs `robutler serve --help`
def test_deployment_probes_and_draining_match_the_server() -> None:
    deployment = kubernetes()["Deployment"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    flags = serve_argv_flags(container["command"])
    assert_known_flags(flags)
    [port] = container["ports"]
    assert str(port["containerPort"]) == flags["--port"]
    hc = DEFAULTS.health_checks
    assert container["livenessProbe"]["httpGet"]["path"] == hc.endpoint
    assert container["readinessProbe"]["httpGet"]["path"] == hc.readiness_endpoint
    assert container["startupProbe"]["httpGet"]["path"] == hc.endpoint
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] == port["name"]
    drain = float(flags["--drain-delay"] or 0)
    graceful = float(flags["--timeout-graceful-shutdown"] or 0)
    assert pod["spec"]["terminationGracePeriodSeconds"] > drain + graceful
    readiness = container["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] < drain  # out of the Service in time
    assert_known_env({e["name"]: e.get("value", "from-a-secret") for e in container["env"]})
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_service_and_servicemonitor_select_the_pods() -> None:
    docs = kubernetes()
    pod_labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service, monitor = docs["Service"], docs["ServiceMonitor"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    [port] = service["spec"]["ports"]
    [container] = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert port["targetPort"] == container["ports"][0]["containerPort"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == port["name"]
    assert endpoint["path"] == DEFAULTS.metrics.endpoint


# --- Grafana -------------------------------------------------------------------------------


def test_dashboard_queries_name_only_metrics_this_package_exposes() -> None:
    doc = json.loads(DASHBOARD.read_text())
    exposed = {"up"}
    for family in local_registry().collect():
        exposed.update(s.name for s in family.samples)
        exposed.add(family.name + ("_total" if family.type == "counter" else ""))
        if family.type == "histogram":
            exposed.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    names = set()
    for panel in doc["panels"]:
        for target in panel["targets"]:
            names.update(re.findall(r"\b((?:robutler|process|python)_[a-z_]+|up)\b(?=\{|\))", target["expr"]))
    assert names, "no metric names found"
    assert names <= exposed, f"unknown metrics: {sorted(names - exposed)}"
    variables = {v["name"] for v in doc["templating"]["list"]}
    assert {"job", "instance", "agent"} <= variables
    assert len({p["id"] for p in doc["panels"]}) == len(doc["panels"])


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in compose["volumes"])
    dashboards_dir = yaml.safe_load((CONFIG / "grafana/provisioning/dashboards/robutler.yml").read_text())
    path = dashboards_dir["providers"][0]["options"]["path"]
    assert mounts["../grafana/robutler.json"].startswith(path + "/")
    source = yaml.safe_load((CONFIG / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
