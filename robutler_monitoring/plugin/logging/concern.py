"""The logging concern: the sink in every process, uvicorn's logging routed into it, the access log."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from ...host.types import ASGIApp
from ..concerns import Concern
from ..runtime import Runtime
from .access import AccessLogger
from .setup import configure_process, process_handle
from .writelock import LOCK_ENV, create_lock_file

_UVICORN_LEVELS = {"SUCCESS": "info"}


class LoggingConcern(Concern):
    """JSON or console lines for everything the process logs, plus one access record per request."""

    name = "logging"

    def serve_prepare(self, rt: Runtime) -> None:
        """Configure the sink in the `robutler serve` process (raises UsageError for a bad output)."""
        lock_path = None
        if rt.settings.workers > 1 or rt.settings.reload:
            # several processes will share stdout: their long lines take turns (writelock.py)
            lock_path = create_lock_file()
        configure_process(rt.cfg.logging, lock_path)
        if rt.cfg.logging.output not in ("stdout", "stderr"):
            # the terminal would otherwise stay silent: say once where everything goes
            print(f"robutler: logging to {rt.cfg.logging.output}", file=sys.stderr, flush=True)

    def uvicorn_config(self, rt: Runtime, config: dict[str, Any]) -> None:
        """Hand uvicorn's logging over to our sink; its access log is replaced by ours."""
        config["log_config"] = None
        config["access_log"] = False
        level = rt.cfg.logging.level
        config["log_level"] = _UVICORN_LEVELS.get(level, level.lower())

    def worker_prepare(self, rt: Runtime) -> None:
        """Configure the sink in a worker process (idempotent in the serve process)."""
        configure_process(rt.cfg.logging, os.environ.get(LOCK_ENV))

    def subscribe(self, rt: Runtime) -> None:
        """The access log: one record per finished request."""
        handle = process_handle() or configure_process(rt.cfg.logging)
        if rt.cfg.logging.access_log:
            rt.subscribe("http", on_end=AccessLogger(handle.sink, rt.cfg.logging.access_log_skip_paths))

    def wrap(self, app: ASGIApp, rt: Runtime) -> ASGIApp:
        _resweep()  # TARGET was just imported: undo its logging set-up
        return app

    async def startup(self, rt: Runtime) -> None:
        _resweep()

    async def shutdown(self, rt: Runtime) -> None:
        """Flush queued lines (the rest is flushed at exit)."""
        handle = process_handle()
        if handle is not None:
            await asyncio.to_thread(handle.flush, 5.0)


def _resweep() -> None:
    """Route the stdlib into the sink again: TARGET's imports may have reconfigured logging."""
    handle = process_handle()
    if handle is not None:
        handle.resweep()
