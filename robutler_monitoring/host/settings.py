"""The frozen settings of one ``robutler serve`` run, handed to every hook."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: Environment variable that carries the settings from ``robutler serve`` to its workers.
SETTINGS_ENV = "ROBUTLER_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeSettings:
    """What ``robutler serve`` was asked to do.

    ``plugin_options`` holds the values of options that plugins added to ``serve``
    (``None`` when the user did not give the option). ``disabled_plugins`` and
    ``config_sections`` are computed once by the host: the plugins switched off, and
    every top-level config section that belongs to some plugin (enabled ones name
    theirs with ``robutler_config_sections``; a disabled plugin's name counts as its
    section). A plugin keeps per-process objects in a typed :class:`Slot`.

    >>> s = ServeSettings(port=9000)
    >>> ServeSettings.from_json(s.to_json()) == s
    True
    """

    target: str | None = None
    factory: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    config_path: str | None = None
    log_level: str | None = None
    reload: bool = False
    app_dir: str = "."
    root_path: str = ""
    proxy_headers: bool = True
    forwarded_allow_ips: str | None = None
    timeout_keep_alive: int = 5
    timeout_graceful_shutdown: int | None = None
    limit_concurrency: int | None = None
    ssl_keyfile: str | None = None
    ssl_certfile: str | None = None
    drain_delay: float = 0.0
    max_header_bytes: int | None = None
    http: str = "auto"
    disabled_plugins: tuple[str, ...] = ()
    config_sections: tuple[str, ...] = ()
    plugin_options: dict[str, Any] = field(default_factory=dict)
    #: True when another server serves the app (``instrument()``): process-wide tuning (the
    #: garbage collector) is left to whoever runs that process
    embedded: bool = False
    _slots: dict[Slot[Any], Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def base_url(self) -> str:
        """The URL a local client uses to reach the server."""
        scheme = "https" if self.ssl_certfile else "http"
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}{self.root_path}"

    def to_json(self) -> str:
        """Serialize everything but the plugins' slots."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data["disabled_plugins"] = tuple(data.get("disabled_plugins", ()))
        data["config_sections"] = tuple(data.get("config_sections", ()))
        return cls(**data)

    @classmethod
    def from_env(cls) -> ServeSettings:
        """Settings passed by the ``robutler serve`` process, or defaults."""
        text = os.environ.get(SETTINGS_ENV)
        return cls.from_json(text) if text else cls()


class Slot(Generic[T]):
    """A typed place for one plugin object per ``robutler serve`` run and process.

    Made once at import time by the plugin that owns it; the value lives on the
    settings object (never serialized, never shared between processes). Slots are
    told apart by identity, so two plugins cannot overwrite each other's.

    >>> RUNS: Slot[list[str]] = Slot("example.runs")
    >>> settings = ServeSettings()
    >>> RUNS.get(settings) is None
    True
    >>> RUNS.setdefault(settings, list).append("first")
    >>> RUNS.get(settings)
    ['first']
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"

    def get(self, settings: ServeSettings) -> T | None:
        """The value kept for ``settings``, or None."""
        value: T | None = settings._slots.get(self)
        return value

    def set(self, settings: ServeSettings, value: T) -> T:
        """Keep ``value`` for ``settings``; return it."""
        settings._slots[self] = value
        return value

    def setdefault(self, settings: ServeSettings, factory: Callable[[], T]) -> T:
        """The value kept for ``settings``, made by ``factory`` on first use."""
        if self in settings._slots:
            found: T = settings._slots[self]
            return found
        return self.set(settings, factory())
