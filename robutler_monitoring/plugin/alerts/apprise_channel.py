"""The only module that imports apprise: URL checks, privacy masking and blocking sends.

Tested with apprise 2.x, whose ``notify()`` returns an ``AppriseResult`` (truthy on
success, with ``logs()``); apprise 1.x returns a bool, which is handled too.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any
from urllib.parse import urlsplit

with warnings.catch_warnings():
    # apprise's e-mail plugin imports the deprecated `imghdr` when its plugins load
    warnings.simplefilter("ignore", DeprecationWarning)
    import apprise

    apprise.Apprise().details()  # load every plugin now, under this filter


def apprise_problem(url: str) -> str | None:
    """Why apprise cannot use ``url`` (None when it can)."""
    scheme = url.partition("://")[0].lower()
    if scheme not in _schemes():
        return f"apprise knows no scheme {scheme!r}"
    if not apprise.Apprise().add(url):
        return f"apprise cannot use this {scheme}:// URL (check its form in apprise's documentation)"
    return None


@cache
def _schemes() -> frozenset[str]:
    found: set[str] = set()
    for service in apprise.Apprise().details().get("schemas", []):
        for key in ("protocols", "secure_protocols"):
            value = service.get(key) or ()
            found.update(v.lower() for v in ([value] if isinstance(value, str) else value))
    return frozenset(found)


def privacy_url(url: str) -> str:
    """``url`` as apprise shows it with ``privacy=True``: tokens and passwords masked."""
    obj = apprise.Apprise.instantiate(url)
    if obj is None:
        parts = urlsplit(url)
        return f"{parts.scheme}://***"
    return str(obj.url(privacy=True))  # type: ignore[no-untyped-call]


def _with_timeouts(url: str, timeout: float) -> str:
    # apprise's own connect (cto) and read (rto) timeouts, unless the URL sets them
    query = urlsplit(url).query
    extra = [f"{k}={timeout:g}" for k in ("cto", "rto") if f"{k}=" not in query]
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


class AppriseSender:
    """One apprise object for one channel (apprise waits between sends on one object)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._apprise = apprise.Apprise()
        if not self._apprise.add(_with_timeouts(url, timeout)):
            raise ValueError(f"apprise cannot use {privacy_url(url)}")
        self.shown_url = privacy_url(url)

    def send(self, title: str, body: str) -> str | None:
        """Send one notification, blocking; None on success, else the reason it failed."""
        result: Any = self._apprise.notify(body=body, title=title)
        if result:
            return None
        logs = getattr(result, "logs", None)
        if callable(logs):
            messages = [str(getattr(e, "message", e)) for e in logs()]
            if messages:
                return messages[-1]
        return "apprise reported a failure"
