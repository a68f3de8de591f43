"""Run uvicorn for ``robutler serve``: check what can be checked first, then serve."""

from __future__ import annotations

import errno
import logging
import os
import socket
from typing import Any

import pluggy
import uvicorn

from .app import build_app
from .errors import HostError
from .headers import DEFAULT_MAX_HEADER_BYTES, check_uvicorn, protocol_class
from .plugins import call_each
from .settings import SETTINGS_ENV, ServeSettings
from .target import load_target

log = logging.getLogger("robutler_monitoring.host")

WORKER_FACTORY = "robutler_monitoring.host.app:create_worker_app"


def serve(settings: ServeSettings, pm: pluggy.PluginManager) -> None:
    """Serve until interrupted; raise :class:`HostError` for anything the user can fix."""
    if settings.reload and settings.workers > 1:
        raise HostError("--reload and --workers cannot be used together", exit_code=2)
    single = settings.workers == 1 and not settings.reload
    check_uvicorn()  # the header limit builds on uvicorn's protocol classes
    http = protocol_class(settings.http)
    # Plugins first, so that whatever importing TARGET logs goes through their set-up.
    call_each(pm, "robutler_serve_prepare", settings=settings)
    if single:  # this process is the worker
        call_each(pm, "robutler_worker_prepare", settings=settings)
    # Check TARGET in this process even when workers will import it again, so a
    # mistake is one clear line here rather than a traceback in every worker.
    target = load_target(settings.target, factory=settings.factory, app_dir=settings.app_dir)
    _check_port(settings.host, settings.port)  # after the input checks: those errors come first
    app: Any
    if single:
        app = build_app(settings, pm, target, served=True)
    else:
        os.environ[SETTINGS_ENV] = settings.to_json()
        app = WORKER_FACTORY
    config: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers if not single else None,
        "reload": settings.reload,
        "factory": not single,
        "lifespan": "on",
        "log_level": (settings.log_level or "info").lower(),
        "root_path": settings.root_path,
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_keep_alive": settings.timeout_keep_alive,
        "timeout_graceful_shutdown": settings.timeout_graceful_shutdown,
        "limit_concurrency": settings.limit_concurrency,
        "ssl_keyfile": settings.ssl_keyfile,
        "ssl_certfile": settings.ssl_certfile,
        "server_header": False,
        "http": http,
        # the outermost layer (ServedLifespanHooks) is a plain callable returning a coroutine,
        # which uvicorn's "auto" would take for ASGI 2
        "interface": "asgi3",
        # The request head limit of both protocol classes (see headers.py); plugins may change it.
        "h11_max_incomplete_event_size": settings.max_header_bytes or DEFAULT_MAX_HEADER_BYTES,
    }
    if settings.reload:
        config["reload_dirs"] = [os.path.abspath(settings.app_dir)]
    call_each(pm, "robutler_uvicorn_config", settings=settings, config=config)
    _ensure_log_output()
    _banner(settings, pm)
    uvicorn.run(app, **config)


def _check_port(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise HostError(f"cannot listen on --host {host!r}: {exc.strerror}", exit_code=2) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise HostError(
                    f"port {port} on {host} is already in use; choose another with --port"
                ) from None
            if exc.errno == errno.EACCES:
                raise HostError(f"no permission to listen on port {port} of {host}") from None
            raise HostError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _ensure_log_output() -> None:
    """Without a logging plugin, the host's own lines still reach the terminal."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


def _banner(settings: ServeSettings, pm: pluggy.PluginManager) -> None:
    what = settings.target or "the embedded demo agent server"
    workers = f" with {settings.workers} workers" if settings.workers > 1 else ""
    log.info("Serving %s at %s%s", what, settings.base_url, workers)
    if settings.target is None:
        log.info("Agents:  %s/agents", settings.base_url)
    for _, lines in call_each(pm, "robutler_startup_lines", settings=settings):
        for line in lines or ():
            log.info("%s", line)
    log.info("Press Ctrl+C to stop")
