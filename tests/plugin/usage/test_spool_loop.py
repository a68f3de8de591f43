"""SpoolLoop: a step that raises is reported and tried again; the thread lives on."""

from __future__ import annotations

from pathlib import Path

from robutler_monitoring.plugin.usage.spool import Spool
from robutler_monitoring.plugin.usage.spool_loop import SpoolLoop
from tests.support.polling import wait_until


def test_a_step_that_raises_is_reported_and_the_loop_goes_on(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    steps: list[int] = []

    def step(spool: Spool) -> float:
        steps.append(1)
        if len(steps) <= 2:  # e.g. "database is locked" past the busy timeout
            raise RuntimeError("database is locked")
        return 60.0

    loop = SpoolLoop("test-loop", lambda: Spool(str(tmp_path)), step, on_error=errors.append, retry_s=0.01)
    loop.start()
    try:
        wait_until(lambda: len(steps) >= 3, what="a third step after two failures")
    finally:
        loop.stop()
    assert [str(e) for e in errors] == ["database is locked", "database is locked"]
