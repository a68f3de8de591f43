"""The detailed health as gauges on /metrics, kept current without a call to /health/detailed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from robutler_monitoring.plugin.health.metrics import HealthMetrics
from tests.plugin.metrics.helpers import sample, value
from tests.support.polling import wait_until
from tests.support.servers import robutler_serve

# The demo, plus a check that fails while a flag file exists (in the worker it names, if it names one).
FLAGGED_DEMO = """
    import os
    from pathlib import Path

    from robutler_monitoring import register_health_check
    from robutler_monitoring.demo.app import create_demo_app

    FLAG = Path(__file__).with_name("fail.flag")
    def ping():
        named = FLAG.read_text().strip() if FLAG.exists() else None
        return "fail" if named in ("", str(os.getpid())) else "pass"

    register_health_check("database:ping", ping)
    app = create_demo_app()
"""


def _workers(pid: int) -> list[int]:
    """The worker processes of a `robutler serve --workers N` (spawned, not the resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="utf-8").split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_the_worst_status_is_the_lowest_value() -> None:
    registry = CollectorRegistry()
    gauges = HealthMetrics(registry)
    gauges.update("warn", {"readiness": "pass", "memory:utilization": "warn"})
    assert value(registry, "robutler_health_status") == 0.5
    assert value(registry, "robutler_health_check_status", check="memory:utilization") == 0.5
    gauges.update("fail", {"readiness": "pass", "database:ping": "fail"})
    assert value(registry, "robutler_health_status") == 0.0
    assert value(registry, "robutler_health_check_status", check="readiness") == 1.0
    assert value(registry, "robutler_health_check_status", check="database:ping") == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_failing_check_turns_the_gauge_to_0_on_metrics_without_a_detailed_health_call(
    tmp_path: Path, workers: str
) -> None:
    (tmp_path / "flagged.py").write_text(textwrap.dedent(FLAGGED_DEMO), encoding="utf-8")
    config = tmp_path / "robutler.yaml"
    config.write_text(
        yaml.safe_dump({"monitoring": {"metrics": {"collect_interval": 0.5}}}), encoding="utf-8"
    )
    flag = tmp_path / "fail.flag"
    # Nothing calls /health/detailed and no alert channel is configured: the schedule alone moves the gauge.
    args = ("flagged:app", "--config", str(config), "--workers", workers)
    with robutler_serve(*args, tmp_path=tmp_path, cwd=tmp_path, timeout=90) as server:

        def scraped(name: str, **labels: str) -> float | None:
            return sample(httpx.get(server.base_url + "/metrics", timeout=10).text, name, **labels)

        wait_until(lambda: scraped("robutler_health_status") == 1.0, what="health status 1 (pass)")
        assert scraped("robutler_health_check_status", check="readiness") == 1.0
        assert scraped("robutler_health_check_status", check="agents:count") == 1.0
        # one worker of two failing is enough: the exposed value is the worst live worker's
        flag.write_text(str(_workers(server.proc.pid)[0]) if workers == "2" else "", encoding="utf-8")
        wait_until(
            lambda: scraped("robutler_health_status") == 0.0, timeout=10, what="health status 0 (fail)"
        )
        assert scraped("robutler_health_check_status", check="database:ping") == 0.0
        assert scraped("robutler_health_check_status", check="agents:count") == 1.0
        flag.unlink()
        wait_until(
            lambda: scraped("robutler_health_status") == 1.0, timeout=10, what="health status back to 1"
        )
