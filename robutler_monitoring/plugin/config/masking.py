"""Hiding secrets before a value is shown: in ``config show`` and in error messages.

Masked: any key the shared detector (``plugin/secrets.py``) calls secret (``password``,
``auth_token``, a webhook's ``Authorization`` header, ...), any ``SecretStr``,
credentials inside URLs (``https://user:pass@host`` -> ``https://user:***@host``,
``?token=abc`` -> ``?token=***``), and the whole path and query of a webhook URL,
which is where Slack, Discord and Teams put the secret
(``https://hooks.slack.com/services/T0/B0/XyZ`` -> ``https://hooks.slack.com/***``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from ..secrets import MASK, is_secret_key, is_secret_param, mask_capability_url, mask_url

__all__ = ["MASK", "is_secret_path", "mask", "mask_url"]


def is_secret_path(path: Sequence[str | int]) -> bool:
    """True when the value at this key path is a secret as a whole."""
    if not path or not isinstance(path[-1], str):
        return False
    if len(path) >= 2 and path[-2] == "headers":  # a webhook's `headers: {X-Signature: ...}`
        return is_secret_param(path[-1])
    return is_secret_key(path[-1])


def mask(path: Sequence[str | int], value: Any) -> Any:
    """``value`` with every secret in it replaced by ``***`` (containers are walked)."""
    if value is None:
        return None
    if isinstance(value, SecretStr) or is_secret_path(path):
        return MASK
    if isinstance(value, str):
        if not _is_webhook_url(path):
            return mask_url(value)
        if "://" not in value or value.lower().startswith(("http://", "https://")):
            return mask_capability_url(value)
        return _apprise_private(value)
    if isinstance(value, dict):
        return {k: mask([*path, k], v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask([*path, i], v) for i, v in enumerate(value))
    return value


def _is_webhook_url(path: Sequence[str | int]) -> bool:
    # `alerts.webhooks.0.url`, with or without the leading `monitoring`
    return len(path) >= 3 and path[-1] == "url" and isinstance(path[-2], int) and path[-3] == "webhooks"


def _apprise_private(url: str) -> str:
    # apprise URLs keep tokens anywhere, the host included (tgram://BOT_TOKEN/CHAT): ask apprise
    from ..alerts.apprise_channel import privacy_url

    return privacy_url(url)
