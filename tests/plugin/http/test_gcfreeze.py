"""``monitoring.server.gc_freeze`` and ``gc_threshold``: a served worker's garbage collector."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

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
    return _read(base, "/frozen")


def _threshold(base: str) -> int:
    return _read(base, "/threshold")


def _read(base: str, path: str) -> int:
    return int(httpx.get(base + path, timeout=10).text)


@pytest.mark.slow
def test_a_served_worker_freezes_its_start_up_objects(tmp_path: Path) -> None:
    (tmp_path / "frozenapp.py").write_text(APP)
    with robutler_serve("frozenapp.py:app", tmp_path=tmp_path, cwd=tmp_path) as server:
        # frozen before the first request was taken
        count = _frozen(server.base_url)
    # modules, config and the app: a served process holds tens of thousands of objects at start
    assert count > 10_000


@pytest.mark.slow
def test_gc_freeze_false_leaves_the_collector_alone(tmp_path: Path) -> None:
    (tmp_path / "frozenapp.py").write_text(APP)
    env = {"ROBUTLER_MONITORING__SERVER__GC_FREEZE": "false"}
    with robutler_serve("frozenapp.py:app", tmp_path=tmp_path, cwd=tmp_path, env=env) as server:
        # an absence: watched for a while after the first request
        until = time.monotonic() + 2.0
        while time.monotonic() < until:
            assert _frozen(server.base_url) == 0
            time.sleep(0.1)


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


TUNED_APP = "import gc\ngc.set_threshold(50_000, 20, 20)\n" + APP


@pytest.mark.slow
def test_an_app_that_tuned_its_own_collector_keeps_its_threshold(tmp_path: Path) -> None:
    (tmp_path / "tunedapp.py").write_text(TUNED_APP)
    with robutler_serve("tunedapp.py:app", tmp_path=tmp_path, cwd=tmp_path) as server:
        assert _threshold(server.base_url) == 50_000


INSTRUMENTED = """
import asyncio, gc, json
from robutler_monitoring import instrument

async def app(scope, receive, send):
    while True:
        message = await receive()
        kind = message["type"].rsplit(".", 1)[-1]
        await send({"type": f"lifespan.{kind}.complete"})
        if kind == "shutdown":
            return

before = [list(gc.get_threshold()), gc.get_freeze_count()]
wrapped = instrument(app)

async def run():
    queue = asyncio.Queue()
    await queue.put({"type": "lifespan.startup"})
    await queue.put({"type": "lifespan.shutdown"})
    sent = []
    async def send(message):
        sent.append(message["type"])
    await wrapped({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, queue.get, send)
    return sent

sent = asyncio.run(run())
after = [list(gc.get_threshold()), gc.get_freeze_count()]
with open("result.json", "w") as out:  # stdout is the log's now
    json.dump({"sent": sent, "before": before, "after": after}, out)
"""


@pytest.mark.slow
def test_an_instrumented_app_leaves_the_host_process_collector_alone(tmp_path: Path) -> None:
    """instrument() runs inside someone else's server or test suite: no freeze, no threshold."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", INSTRUMENTED],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["sent"] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert result["after"] == result["before"]  # [[700, 10, 10], 0]
