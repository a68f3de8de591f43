"""Health checks: a registry of named checks and a runner that never lets one break the report.

Names follow draft-inadarei-api-health-check: ``component:measurement`` (``memory:utilization``)
or a bare measurement (``uptime``). A check returns None (pass), a bool, a status string,
a number (the observed value), or a dict of the draft's fields.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATUSES = ("pass", "warn", "fail")
_RANK = {s: i for i, s in enumerate(STATUSES)}
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}(:[A-Za-z0-9_.\-]{1,64})?$")
_FIELDS = ("componentId", "componentType", "observedValue", "observedUnit", "status", "output")

CheckFn = Callable[[], Any] | Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class HealthCheck:
    """One named check and how to present it."""

    name: str
    fn: CheckFn
    component_type: str | None = None
    observed_unit: str | None = None
    inline: bool = False  #: built-ins: cheap and non-blocking, run on the loop without a timeout


def worst(statuses: list[str]) -> str:
    """The worst of some statuses (pass < warn < fail); pass for none."""
    return max(statuses, key=_RANK.__getitem__, default="pass")


class HealthRegistry:
    """Named health checks, run together for ``/health/detailed``.

    >>> checks = HealthRegistry()
    >>> checks.register("database:connections", lambda: {"observedValue": 3, "status": "pass"})
    >>> checks.register("cache:reachable", lambda: True, component_type="datastore")
    """

    def __init__(self) -> None:
        self._checks: dict[str, HealthCheck] = {}
        self._lock = threading.Lock()

    def register(
        self,
        name: str,
        fn: CheckFn,
        *,
        component_type: str | None = None,
        observed_unit: str | None = None,
    ) -> None:
        """Add (or replace) the check ``name``; ``fn`` may be sync or async."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"health check name {name!r} is invalid: expected 'component:measurement' "
                "or 'measurement' (letters, digits, '_', '.', '-')"
            )
        if not callable(fn):
            raise TypeError(f"health check {name!r}: expected a callable, got {type(fn).__name__}")
        with self._lock:
            self._checks[name] = HealthCheck(name, fn, component_type, observed_unit)

    def checks(self) -> list[HealthCheck]:
        """The registered checks, in registration order."""
        with self._lock:
            return list(self._checks.values())


def timestamp() -> str:
    """Now, as the draft's ``time`` field (UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_for(check: HealthCheck, value: Any) -> dict[str, Any]:
    """The draft's entry for what ``check`` returned (see the module docstring)."""
    entry: dict[str, Any] = {}
    if check.component_type:
        entry["componentType"] = check.component_type
    if check.observed_unit:
        entry["observedUnit"] = check.observed_unit
    if value is None or value is True:
        entry["status"] = "pass"
    elif value is False:
        entry["status"] = "fail"
    elif isinstance(value, str) and value in STATUSES:
        entry["status"] = value
    elif isinstance(value, int | float):
        entry.update(observedValue=value, status="pass")
    elif isinstance(value, dict):
        # Only the draft's fields, as plain JSON values: nothing else leaks out.
        for key in _FIELDS:
            if key in value:
                v = value[key]
                entry[key] = v if isinstance(v, int | float | str | bool) or v is None else str(v)
        if entry.get("status") not in STATUSES:
            entry["status"] = "fail"
            entry["output"] = f"check returned status {value.get('status')!r}; expected pass, warn or fail"
    else:
        entry.update(status="fail", output=f"check returned a {type(value).__name__}; see HealthRegistry")
    entry["time"] = timestamp()
    return entry


# An empty dict and a lock: nothing to defer, so no lazy creation and no second lock.
_default = HealthRegistry()


def default_health_checks() -> HealthRegistry:
    """The process-wide registry behind ``register_health_check``."""
    return _default


def register_health_check(
    name: str, fn: CheckFn, *, component_type: str | None = None, observed_unit: str | None = None
) -> None:
    """Add a check to ``/health/detailed`` (sync or async; raise or time out = fail)."""
    default_health_checks().register(name, fn, component_type=component_type, observed_unit=observed_unit)
