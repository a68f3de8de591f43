"""Is the Robutler SDK installed? Asked of the installed distributions, never by importing it.

``import robutler`` (or ``find_spec("robutler")``) succeeds without the SDK too: this
package places ``robutler/__main__.py`` in the namespace, so ``robutler`` is then a
namespace package. And importing the SDK costs seconds (LiteLLM).
"""

from __future__ import annotations

from importlib import metadata


def sdk_installed() -> bool:
    """True when the ``robutler`` distribution (the SDK) is installed."""
    try:
        metadata.distribution("robutler")
    except metadata.PackageNotFoundError:
        return False
    return True
