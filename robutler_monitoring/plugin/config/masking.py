"""Hiding secrets before a value is shown: in ``config show`` and in error messages.

Masked: ``password`` and ``auth_token`` keys, any ``SecretStr``, webhook header values
whose name looks like a credential, and credentials inside URLs
(``https://user:pass@host`` -> ``https://user:***@host``, ``?token=abc`` -> ``?token=***``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr

MASK = "***"

_SECRET_KEYS = frozenset({"password", "auth_token"})
_SECRET_NAME = re.compile(
    r"authorization|token|secret|password|passwd|api[-_]?key|apikey|cookie|signature|^sig$|^key$",
    re.IGNORECASE,
)


def is_secret_key(path: Sequence[str | int]) -> bool:
    """True when the value at this dotted path is a secret as a whole."""
    if not path:
        return False
    last = str(path[-1])
    if last in _SECRET_KEYS:
        return True
    # headers of a webhook: `alerts.webhooks.0.headers.Authorization`
    return len(path) >= 2 and path[-2] == "headers" and bool(_SECRET_NAME.search(last))


def mask(path: Sequence[str | int], value: Any) -> Any:
    """``value`` with every secret in it replaced by ``***`` (containers are walked)."""
    if value is None:
        return None
    if isinstance(value, SecretStr) or is_secret_key(path):
        return MASK
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {k: mask([*path, k], v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask([*path, i], v) for i, v in enumerate(value))
    return value


def mask_url(text: str) -> str:
    """Mask the password (or lone token) and secret-looking query values of a URL."""
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        # a lone userinfo (`https://TOKEN@host`) is usually a token, so it goes too
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_NAME.search(k) for k, _ in pairs):
            masked = [(k, MASK if _SECRET_NAME.search(k) else v) for k, v in pairs]
            query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
