"""The logging concern: the sink in every process, uvicorn's logging routed into it, the access log."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Iterable
from typing import Any

from ...api.health import HealthCheck
from ...host.types import ASGIApp
from ...integrations.robutler_sdk import serving_if_used
from ..concerns import Concern
from ..runtime import Runtime
from .access import AccessLogger
from .observe import HEALTH_CHECK, count_drops, output_check
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
        _flush_before_sigterm()
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
        """Configure the sink in a worker process (idempotent in the serve process); count its drops."""
        handle = configure_process(rt.cfg.logging, os.environ.get(LOCK_ENV))
        if rt.cfg.metrics.enabled and not getattr(handle, "_drops_counted", False):
            count_drops(handle.writer, rt.registry)
            handle._drops_counted = True  # type: ignore[attr-defined]

    def health_checks(self, rt: Runtime) -> Iterable[HealthCheck]:
        """``logging:output``: warns while log lines are being lost."""
        handle = process_handle()
        if handle is None:
            return ()
        return (HealthCheck(HEALTH_CHECK, output_check(handle.writer), component_type="component"),)

    def subscribe(self, rt: Runtime) -> None:
        """The access log: one record per finished request."""
        handle = process_handle() or configure_process(rt.cfg.logging)
        if rt.cfg.logging.access_log:
            rt.subscribe("http", on_end=AccessLogger(handle.sink, rt.cfg.logging.access_log_skip_paths))

    def wrap(self, app: ASGIApp, rt: Runtime) -> ASGIApp:
        _resweep()  # TARGET was just imported: undo its logging set-up
        _adopt_sdk(rt, drop_request_lines=True)
        return app

    async def startup(self, rt: Runtime) -> None:
        _resweep()
        _adopt_sdk(rt)

    async def shutdown(self, rt: Runtime) -> None:
        """Flush queued lines; from now on each line is written before logging returns.

        Requests are over by now. What is still logged ("Application shutdown complete.",
        "Finished server process") must be out before the process ends, however it ends:
        uvicorn re-raises SIGTERM in a worker right after its last line.
        """
        handle = process_handle()
        if handle is not None:
            await asyncio.to_thread(handle.flush, 5.0)
            handle.drain_on_write(2.0)


def _flush_before_sigterm() -> None:
    """Flush queued lines when SIGTERM ends this process.

    uvicorn catches SIGTERM, shuts down, restores the handler it found and raises the
    signal again. With the default handler the process would die there, before the
    writer thread wrote the last lines ("Finished server process") and without atexit.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone else decides what SIGTERM does

    def flush_then_die(sig: int, frame: object) -> None:
        handle = process_handle()
        if handle is not None:
            handle.flush(2.0)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)

    signal.signal(signal.SIGTERM, flush_then_die)


def _adopt_sdk(rt: Runtime, *, drop_request_lines: bool = False) -> None:
    """Served SDK agents: their lines at our level, content only with the opt-in, no request lines."""
    serving = serving_if_used()
    if serving is None:
        return  # no SDK agents served: the SDK may not even be installed
    from ...integrations.robutler_sdk import logs

    logs.adopt_sdk_logging(rt.cfg.tracing.capture_content)
    if drop_request_lines:
        for server in serving.served_servers():
            logs.drop_request_logging(server.app)


def _resweep() -> None:
    """Route the stdlib into the sink again: TARGET's imports may have reconfigured logging."""
    handle = process_handle()
    if handle is not None:
        handle.resweep()
