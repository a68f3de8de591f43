"""Fixtures of the logging tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import Captured, Loggers, captured


@pytest.fixture
def logs() -> Iterator[Captured]:
    """The real JSON sink at DEBUG, stdlib routed in, writing to a buffer."""
    with captured(level="DEBUG") as capture:
        yield capture


@pytest.fixture
def loggers() -> Iterator[Loggers]:
    """Get loggers through this; their handlers, level and propagation (and the logger class) are restored."""
    state = Loggers()
    try:
        yield state
    finally:
        state.restore()
