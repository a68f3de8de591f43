"""The `robutler` command: a small plugin host built on Typer, pluggy and uvicorn.

What a plugin author needs is importable from here::

    from robutler_monitoring.host import ASGIApp, HostError, ServeSettings, hookimpl

    @hookimpl
    def robutler_asgi_wrapper(app: ASGIApp, settings: ServeSettings) -> ASGIApp | None: ...

The hook specification itself is :mod:`robutler_monitoring.host.hookspecs`.
"""

from __future__ import annotations

from .errors import HostError, UsageError
from .hookspecs import ENTRY_POINT_GROUP, hookimpl, hookspec
from .plugins import HostInfo, current_host_info
from .settings import ServeSettings, Slot
from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ENTRY_POINT_GROUP",
    "ASGIApp",
    "HostError",
    "HostInfo",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "ServeSettings",
    "Slot",
    "UsageError",
    "current_host_info",
    "hookimpl",
    "hookspec",
]
