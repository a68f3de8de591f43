"""Config sections accepted but not in effect yet: one WARNING line each at start-up.

The schema accepts ``alerts`` already (so a file written for the product
docs validates), but nothing reads them yet. Saying so beats a silent no-op. When a
section's feature lands, its issue removes the section's entry from :data:`NOT_YET`.
"""

from __future__ import annotations

import logging

from .layers import DEFAULT_SOURCE
from .loader import ResolvedConfig

#: section -> what the operator should know; shrink this as features land
NOT_YET: dict[str, str] = {}  # alerts and tracing are in effect now

_log = logging.getLogger("robutler.monitoring")


def inert_warnings(resolved: ResolvedConfig) -> list[str]:
    """One line per section in :data:`NOT_YET` that the file, environment or flags set.

    A section switched off (``enabled: false``) is as good as its future self: no line.
    """
    first_source: dict[str, str] = {}
    for key, source in resolved.sources.items():
        section = key.split(".", 1)[0]
        if source != DEFAULT_SOURCE:
            first_source.setdefault(section, source)
    return [
        f"monitoring.{section} is set ({first_source[section]}) but has no effect: {why}"
        for section, why in NOT_YET.items()
        if section in first_source and getattr(getattr(resolved.config, section), "enabled", True)
    ]


def warn_inert(resolved: ResolvedConfig) -> None:
    """Log :func:`inert_warnings` at WARNING (call once, after logging is set up)."""
    for line in inert_warnings(resolved):
        _log.warning("%s", line)
