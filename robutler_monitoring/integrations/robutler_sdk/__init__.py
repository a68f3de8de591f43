"""The Robutler SDK (``robutler`` 0.2.0, extra ``[sdk]``): the only package that imports it.

``serving`` turns SDK agents into the ASGI app ``robutler serve`` runs and imports
no monitoring code, so serving with the monitoring plugin disabled stays free of
it. Instrumenting SDK agents (usage, tool calls) belongs in a module of its own
beside it. This ``__init__`` imports neither the SDK nor its modules.
"""

from __future__ import annotations

import sys
from types import ModuleType


def serving_if_used() -> ModuleType | None:
    """The ``serving`` module when TARGET served SDK agents in this process, else None (nothing imported)."""
    serving = sys.modules.get(__name__ + ".serving")
    return serving if serving is not None and serving.served_servers() else None
