"""With the monitoring plugin disabled, nothing of it (nor prometheus_client) is imported."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.plugins import install_plugin
from tests.support.servers import robutler_serve

MONITORING = ("prometheus_client", "robutler_monitoring.plugin")

REPORT = """
import json
import sys

WATCHED = ("prometheus_client", "robutler_monitoring.plugin")


def loaded():
    return sorted(name for name in sys.modules if name.startswith(WATCHED))


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(loaded()).encode()})
"""

# A second plugin that reports the loaded modules beside whatever it wraps (here: the demo).
REPORTER = """
from robutler_monitoring.host import hookimpl
from modules_app import app as report


@hookimpl
def robutler_asgi_wrapper(app, settings):
    async def wrapper(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/__modules":
            await report(scope, receive, send)
        else:
            await app(scope, receive, send)

    return wrapper
"""


@pytest.fixture
def reporter_env(tmp_path: Path) -> dict[str, str]:
    site = install_plugin(
        tmp_path / "site",
        "robutler-reporter",
        {"modules_app": REPORT, "robutler_reporter": REPORTER},
        {"reporter": "robutler_reporter"},
    )
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": pythonpath}


@pytest.mark.slow
def test_a_target_served_with_the_plugin_disabled_loads_none_of_it(
    tmp_path: Path, reporter_env: dict[str, str]
) -> None:
    (tmp_path / "target_app.py").write_text(textwrap.dedent(REPORT))
    with robutler_serve(
        "target_app:app", "--app-dir", str(tmp_path), tmp_path=tmp_path,
        env={**reporter_env, "ROBUTLER_DISABLE_PLUGINS": "monitoring"},
    ) as server:  # fmt: skip
        loaded = httpx.get(f"{server.base_url}/", timeout=10).json()
        metrics = httpx.get(f"{server.base_url}/metrics", timeout=10)
    assert loaded == []
    assert metrics.status_code != 200 or "robutler_http" not in metrics.text  # no monitoring endpoints


@pytest.mark.slow
def test_the_demo_served_with_the_plugin_disabled_loads_none_of_it(
    tmp_path: Path, reporter_env: dict[str, str]
) -> None:
    disable = ("--disable-plugin", "monitoring")
    with robutler_serve(tmp_path=tmp_path, env=reporter_env, root_args=disable) as server:
        agents = httpx.get(f"{server.base_url}/agents", timeout=10)
        loaded = httpx.get(f"{server.base_url}/__modules", timeout=10).json()
    assert agents.status_code == 200 and agents.json()["agents"]
    assert loaded == []
