"""Masking secrets in log records: by key at any depth, and inside text.

Names are judged by :func:`robutler_monitoring.plugin.secrets.is_secret_key`, the
detector ``config show`` uses too. Any ``Mapping`` (dict subclasses, starlette
``Headers``, ...), list, tuple, set and dataclass instance is walked; every string is
scrubbed of ``key=value`` pairs and URL credentials (``scrub_text``). Other objects
are rendered by their ``repr``, which ``entry.py`` scrubs the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..secrets import MASK, is_secret_key, scrub_text

__all__ = ["MASK", "is_secret_key", "redact", "redact_field", "scrub_text"]

_MAX_DEPTH = 32
#: values that can hold nothing to mask (exact types: a subclass may carry a surprising repr)
_SCALARS = frozenset({int, float, bool, type(None)})


def redact(value: Any, _depth: int = 0) -> Any:
    """``value`` as plain data with every secret-keyed item (and ``(name, value)`` pair) masked."""
    kind = type(value)
    if kind is str:
        return scrub_text(value)
    if kind in _SCALARS:
        return value
    if _depth > _MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, Mapping):
        try:
            items = list(value.items())
        except Exception:  # a broken Mapping: its repr is scrubbed when it is encoded
            return value
        return {k: MASK if _secret(k) else redact(v, _depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        # header lists: [(b"authorization", b"Bearer x"), ...]
        if isinstance(value, list | tuple) and len(value) == 2:
            name, item = value
            if _secret(name) and isinstance(item, str | bytes):
                return [name, MASK]
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # shallow: the fields, not dataclasses.asdict()'s deep copy of everything under them
        return {
            f.name: MASK if is_secret_key(f.name) else redact(getattr(value, f.name, None), _depth + 1)
            for f in dataclasses.fields(value)
        }
    return value


def redact_field(key: str, value: Any) -> Any:
    """The value to log for a top-level field ``key``."""
    if is_secret_key(key):
        return MASK
    return redact(value)


def _secret(key: Any) -> bool:
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    return isinstance(key, str) and is_secret_key(key)
