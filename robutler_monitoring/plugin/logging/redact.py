"""Masking secrets in log records: by key at any depth, and ``key=value`` pairs inside text.

A key is secret when one of its words (split on ``_``, ``-``, ``.`` and camelCase) is
a secret word (``password``, ``token``, ``cookie``, ...) or a secret pair of words
(``api_key``, ``private-key``, ...). Whole words keep usage counters such as
``prompt_tokens`` or ``max_tokens`` readable while ``access_token`` is masked.
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import Any

MASK = "***"

_WORDS = frozenset(
    {
        "password", "passwords", "passwd", "passphrase", "secret", "secrets", "token",
        "apikey", "apikeys", "authorization", "cookie", "cookies", "credential",
        "credentials", "privatekey", "jwt",
    }
)  # fmt: skip
_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")
_MAX_DEPTH = 32

_HINTS = ("pass", "secret", "token", "key", "authoriz", "cookie", "credential")
# `password=abc`, `"token": "abc"`, `Authorization: Bearer abc`, `?api_key=abc&...`
_TEXT_PAIR = re.compile(
    r"""(?ix)
    (\b[\w.-]*?
      (?:passwords?|passwd|passphrase|secrets?|token|api[_-]?keys?|apikeys?|authorization
        |cookies?|credentials?|private[_-]?keys?)
    \b["']?\s*[:=]\s*)
    ("[^"]*"|'[^']*'|(?:bearer|basic|token)\s+[^\s,;&'"]+|[^\s,;&'"]+)
    """
)


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True when a field or dict key names a secret (``smtp_password``, ``X-Api-Key``, ...)."""
    words = _SPLIT.split(_CAMEL.sub("_", key).lower())
    if any(w in _WORDS for w in words):
        return True
    return any(pair in _PAIRS for pair in itertools.pairwise(words))


def redact(value: Any, _depth: int = 0) -> Any:
    """``value`` with every secret-keyed item of its dicts (and ``(name, value)`` pairs) masked."""
    if _depth > _MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, dict):
        return {k: MASK if _secret(k) else redact(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # header lists: [(b"authorization", b"Bearer x"), ...]
        if len(value) == 2 and _secret(value[0]) and isinstance(value[1], str | bytes):
            return [value[0], MASK]
        return [redact(v, _depth + 1) for v in value]
    return value


def redact_field(key: str, value: Any) -> Any:
    """The value to log for a top-level field ``key``."""
    if is_secret_key(key):
        return MASK
    if type(value) in (dict, list, tuple):
        return redact(value)
    return value


def scrub_text(text: str) -> str:
    """Mask ``key=value`` / ``key: value`` pairs with a secret key inside free text."""
    lower = text.lower()
    # substring tests are several times cheaper than the regex, and almost always miss
    for hint in _HINTS:
        if hint in lower:
            return _TEXT_PAIR.sub(_mask_match, text)
    return text


def _mask_match(match: re.Match[str]) -> str:
    value = match.group(2)
    if value[0] in "\"'":
        return f"{match.group(1)}{value[0]}{MASK}{value[0]}"
    scheme, sep, _ = value.partition(" ")
    if sep and scheme.lower() in ("bearer", "basic", "token"):
        return f"{match.group(1)}{scheme} {MASK}"
    return f"{match.group(1)}{MASK}"


def _secret(key: Any) -> bool:
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    return isinstance(key, str) and is_secret_key(key)
