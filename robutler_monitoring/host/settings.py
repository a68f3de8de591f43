"""The frozen settings of one ``robutler serve`` run, handed to every hook."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

#: Environment variable that carries the settings from ``robutler serve`` to its workers.
SETTINGS_ENV = "ROBUTLER_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeSettings:
    """What ``robutler serve`` was asked to do.

    ``plugin_options`` holds the values of options that plugins added to ``serve``
    (``None`` when the user did not give the option). ``state`` is per-process scratch
    space for plugins, keyed by plugin name; it is never serialized.

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
    disabled_plugins: tuple[str, ...] = ()
    plugin_options: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

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
        """Serialize everything but ``state``."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "state"}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data["disabled_plugins"] = tuple(data.get("disabled_plugins", ()))
        return cls(**data)

    @classmethod
    def from_env(cls) -> ServeSettings:
        """Settings passed by the ``robutler serve`` process, or defaults."""
        text = os.environ.get(SETTINGS_ENV)
        return cls.from_json(text) if text else cls()
