"""The logging part of the monitoring plugin's hooks (called from plugin/hooks.py)."""

from __future__ import annotations

import asyncio
import enum
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ...host.settings import ServeSettings
from ..config.schema import MonitoringConfig
from ..context import RequestRecord
from ..health.checks import default_health_checks
from ..metrics.registry import default_registry
from .access import AccessLogger
from .observe import HEALTH_CHECK, count_drops, output_check
from .setup import configure_process, process_handle
from .writelock import LOCK_ENV, create_lock_file

_UVICORN_LEVELS = {"SUCCESS": "info"}


class LogFormat(enum.StrEnum):
    """Values of ``--log-format``."""

    json = "json"
    console = "console"


_PANEL = "Monitoring"


def serve_options(
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            help="Log line format: JSON lines or readable text (default: from config, else json).",
            rich_help_panel=_PANEL,
        ),
    ] = None,
    log_output: Annotated[
        str | None,
        typer.Option(
            help="Where logs go: stdout, stderr or a file path (default: from config, else stdout).",
            rich_help_panel=_PANEL,
        ),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="Write one access record per request (default: from config, else on).",
            rich_help_panel=_PANEL,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Options that `robutler serve` gains from this plugin (flags > env > file > defaults)."""


def serve_prepare(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """Configure the sink in the `robutler serve` process (raises UsageError for a bad output)."""
    lock_path = None
    if settings.workers > 1 or settings.reload:
        # several processes will share stdout: their long lines take turns (writelock.py)
        lock_path = create_lock_file()
    configure_process(cfg.logging, lock_path)
    _flush_before_sigterm()
    if cfg.logging.output not in ("stdout", "stderr"):
        # the terminal would otherwise stay silent: say once where everything goes
        print(f"robutler: logging to {cfg.logging.output}", file=sys.stderr, flush=True)


def uvicorn_config(cfg: MonitoringConfig, settings: ServeSettings, config: dict[str, Any]) -> None:
    """Hand uvicorn's logging over to our sink; its access log is replaced by ours."""
    config["log_config"] = None
    config["access_log"] = False
    level = cfg.logging.level
    config["log_level"] = _UVICORN_LEVELS.get(level, level.lower())


def configure_worker(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """Configure the sink in a worker process (idempotent in the serve process); report its drops."""
    handle = configure_process(cfg.logging, os.environ.get(LOCK_ENV))
    if cfg.metrics.enabled and not getattr(handle, "_drops_counted", False):
        count_drops(handle.writer, default_registry())
        handle._drops_counted = True  # type: ignore[attr-defined]
    if cfg.health_checks.enabled:
        check = output_check(handle.writer)
        default_health_checks().register(HEALTH_CHECK, check, component_type="component")


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


def resweep(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """Route the stdlib into the sink again: TARGET's imports may have reconfigured logging."""
    handle = process_handle()
    if handle is not None:
        handle.resweep()


def request_listeners(
    cfg: MonitoringConfig, settings: ServeSettings
) -> list[Callable[[RequestRecord], None]]:
    """Callbacks the middleware calls with each finished request (the access log)."""
    handle = process_handle() or configure_process(cfg.logging)
    if not cfg.logging.access_log:
        return []
    return [AccessLogger(handle.sink, cfg.logging.access_log_skip_paths)]


async def shutdown(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """Flush queued lines; from now on each line is written before logging returns.

    Requests are over by now. What is still logged ("Application shutdown complete.",
    "Finished server process") must be out before the process ends, however it ends:
    uvicorn re-raises SIGTERM in a worker right after its last line.
    """
    handle = process_handle()
    if handle is not None:
        await asyncio.to_thread(handle.flush, 5.0)
        handle.drain_on_write(2.0)
