"""A real Prometheus server (Debian package ``prometheus``) on a loopback port, for tests."""

from __future__ import annotations

import contextlib
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from .servers import free_port, interrupt

PROMETHEUS = shutil.which("prometheus")


@dataclass
class Prometheus:
    """A running Prometheus and its query API."""

    base_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr`` now (raises on a PromQL error)."""
        response = httpx.get(f"{self.base_url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus rejected {expr!r}: {body.get('error')}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else []

    def value(self, expr: str) -> float | None:
        """The single value of ``expr``, or None when the result is empty."""
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, f"{expr!r} returned {len(result)} series: {result}"
        return float(result[0]["value"][1])

    def label_values(self, label: str, match: str) -> list[str]:
        """Values of ``label`` on series matching ``match`` (Grafana's ``label_values``)."""
        response = httpx.get(
            f"{self.base_url}/api/v1/label/{label}/values", params={"match[]": match}, timeout=10
        )
        data: list[str] = response.json()["data"]
        return data

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        """Poll ``check`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; Prometheus log:\n{self.log.read_text()[-3000:]}"
                )
            time.sleep(0.25)


def finite(result: list[dict[str, Any]]) -> bool:
    """Whether an instant vector holds at least one number that is not NaN."""
    return any(not math.isnan(float(r["value"][1])) for r in result)


@contextlib.contextmanager
def run_prometheus(
    tmp_path: Path,
    targets: list[str],
    *,
    job: str = "robutler",
    interval: str = "1s",
    token: str | None = None,
) -> Iterator[Prometheus]:
    """Start Prometheus scraping ``targets`` (``host:port``) every ``interval``; stop it after."""
    assert PROMETHEUS, "the Debian package 'prometheus' is not installed"
    scrape: dict[str, Any] = {
        "job_name": job,
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "static_configs": [{"targets": targets}],
    }
    if token:
        scrape["authorization"] = {"type": "Bearer", "credentials": token}
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump({"global": {"evaluation_interval": interval}, "scrape_configs": [scrape]})
    )
    port = free_port()
    log = tmp_path / "prometheus.log"
    argv = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    try:
        server.wait_for("Prometheus to be ready", lambda: _ready(server), timeout=60)
        yield server
    finally:
        interrupt(proc)


def _ready(server: Prometheus) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"Prometheus exited {server.proc.returncode}:\n{server.log.read_text()[-3000:]}")
    try:
        return httpx.get(f"{server.base_url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
