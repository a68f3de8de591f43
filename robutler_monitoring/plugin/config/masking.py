"""Hiding secrets before a value is shown: in ``config show`` and in error messages.

Masked: any key the shared detector (``plugin/secrets.py``) calls secret (``password``,
``auth_token``, a webhook's ``Authorization`` header, ...), any ``SecretStr``,
credentials inside URLs (``https://user:pass@host`` -> ``https://user:***@host``,
``?token=abc`` -> ``?token=***``, with or without a scheme), the values of webhook
``headers`` (their names are shown), and the whole path and query of a webhook URL,
which is where Slack, Discord and Teams put the secret
(``https://hooks.slack.com/services/T0/B0/XyZ`` -> ``https://hooks.slack.com/***``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import SecretStr

from ..secrets import MASK, is_secret_key, is_secret_param, mask_capability_url, mask_url
from .errors import Concealed

__all__ = ["MASK", "conceal", "is_secret_path", "mask", "mask_url"]


def is_secret_path(path: Sequence[str | int]) -> bool:
    """True when the value at this key path is a secret as a whole."""
    if not path or not isinstance(path[-1], str):
        return False
    if len(path) >= 2 and path[-2] == "headers":
        # a webhook's `headers:` carry credentials under any name (`X-Auth`, `X-Hook`):
        # their names are shown, never their values
        return True
    return is_secret_key(path[-1])


def mask(path: Sequence[str | int], value: Any) -> Any:
    """``value`` with every secret in it replaced by ``***`` (containers are walked)."""
    if value is None:
        return None
    if isinstance(value, SecretStr) or is_secret_path(path):
        return MASK
    if isinstance(value, str):
        if _is_webhook_url(path):
            if "://" not in value or value.lower().startswith(("http://", "https://")):
                return mask_capability_url(value)
            return _apprise_private(value)
        return mask_url(value) if "://" in value else _mask_query(value)
    if isinstance(value, dict):
        return {k: mask([*path, k], v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask([*path, i], v) for i, v in enumerate(value))
    return value


def _mask_query(text: str) -> str:
    """``host/path?token=abc`` (a URL without its scheme) -> ``host/path?token=***``."""
    head, mark, query = text.partition("?")
    if not mark or "=" not in query:
        return text
    pairs = [pair.partition("=") for pair in query.split("&")]
    return head + mark + "&".join(f"{k}{eq}{MASK if is_secret_param(k) else v}" for k, eq, v in pairs)


def _is_webhook_url(path: Sequence[str | int]) -> bool:
    # `alerts.webhooks.0.url`, with or without the leading `monitoring`
    return len(path) >= 3 and path[-1] == "url" and isinstance(path[-2], int) and path[-3] == "webhooks"


def _apprise_private(url: str) -> str:
    # apprise URLs keep tokens anywhere, the host included (tgram://BOT_TOKEN/CHAT): ask apprise
    from ..alerts.apprise_channel import privacy_url

    return privacy_url(url)


def conceal(path: Sequence[str | int], value: Any, concealed: Mapping[tuple[str | int, ...], str]) -> Any:
    """``value`` masked, with every part filled in from ``${VAR}`` shown as the reference."""
    path = tuple(path)
    if path in concealed:
        return Concealed(concealed[path])
    if isinstance(value, dict | list | tuple) and any(k[: len(path)] == path for k in concealed):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        parts = {k: conceal((*path, k), v, concealed) for k, v in items}
        value = parts if isinstance(value, dict) else type(value)(parts.values())
    return mask(path, value)
