"""``from robutler_monitoring.utils.logging import get_logger``: the product docs' import path."""

from __future__ import annotations

from ..api.logging import Logger, get_logger

__all__ = ["Logger", "get_logger"]
