"""``monitoring.server.gc_freeze`` and ``gc_threshold``: a served worker's garbage collector."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from robutler_monitoring.plugin.http.gcfreeze import FREEZE_DELAY_S
from tests.support.servers import free_port, robutler_serve, run_robutler

APP = """
import gc

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    value = gc.get_threshold()[0] if scope["path"] == "/threshold" else gc.get_freeze_count()
    body = str(value).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
"""


def _frozen(base: str) -> int:
    return int(httpx.get(base + "/frozen", timeout=10).text)


@pytest.mark.slow
def test_a_served_worker_freezes_its_start_up_objects(tmp_path: Path) -> None:
    (tmp_path / "frozenapp.py").write_text(APP)
    with robutler_serve("frozenapp.py:app", tmp_path=tmp_path, cwd=tmp_path) as server:
        deadline = time.monotonic() + 15
        count = _frozen(server.base_url)
        while count == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            count = _frozen(server.base_url)
    # modules, config and the app: a served process holds tens of thousands of objects at start
    assert count > 10_000


@pytest.mark.slow
def test_gc_freeze_false_leaves_the_collector_alone(tmp_path: Path) -> None:
    (tmp_path / "frozenapp.py").write_text(APP)
    env = {"ROBUTLER_MONITORING__SERVER__GC_FREEZE": "false"}
    with robutler_serve("frozenapp.py:app", tmp_path=tmp_path, cwd=tmp_path, env=env) as server:
        # an absence: watched until well past the moment the freeze would have happened
        until = time.monotonic() + FREEZE_DELAY_S + 1.5
        while time.monotonic() < until:
            assert _frozen(server.base_url) == 0
            time.sleep(0.1)


def _threshold(base: str) -> int:
    return int(httpx.get(base + "/threshold", timeout=10).text)


@pytest.mark.slow
def test_young_objects_are_collected_every_7000_allocations_unless_configured(tmp_path: Path) -> None:
    (tmp_path / "frozenapp.py").write_text(APP)
    with robutler_serve("frozenapp.py:app", tmp_path=tmp_path, cwd=tmp_path) as server:
        assert _threshold(server.base_url) == 7000
    env = {"ROBUTLER_MONITORING__SERVER__GC_THRESHOLD": "2500"}
    with robutler_serve("frozenapp.py:app", tmp_path=tmp_path, cwd=tmp_path, env=env) as server:
        assert _threshold(server.base_url) == 2500
    env = {"ROBUTLER_MONITORING__SERVER__GC_THRESHOLD": "null"}
    with robutler_serve("frozenapp.py:app", tmp_path=tmp_path, cwd=tmp_path, env=env) as server:
        assert _threshold(server.base_url) == 700  # Python's own


@pytest.mark.slow
def test_a_threshold_that_would_stop_collection_is_refused(tmp_path: Path) -> None:
    (tmp_path / "frozenapp.py").write_text(APP)
    env = {"ROBUTLER_MONITORING__SERVER__GC_THRESHOLD": "0"}  # gc.set_threshold(0) disables collection
    done = run_robutler("serve", "frozenapp.py:app", "--port", str(free_port()), cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "gc_threshold" in done.stderr and "0" in done.stderr
    assert "Traceback" not in done.stderr
