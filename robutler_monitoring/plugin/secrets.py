"""The one secret detector of the plugin, shared by the logs and ``config show``.

A name is secret when one of its words (split on ``_``, ``-``, ``.`` and camelCase) is
a secret word (``password``, ``token``, ``cookie``, ...) or two neighbouring words are a
secret pair (``api_key``, ``private-key``, ...). Whole words keep usage counters such as
``prompt_tokens`` or ``max_tokens`` readable while ``access_token`` is masked. A URL
query parameter or HTTP header is also secret when it is just ``key`` or ``sig``
(``?key=AIza...``), a name too common elsewhere (a cache key) to mask everywhere.
Free text is scrubbed of ``key=value`` pairs whose key is such a name and of
credentials inside URLs.
"""

from __future__ import annotations

import functools
import itertools
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

_WORDS = frozenset(
    {
        "password", "passwords", "passwd", "passphrase", "secret", "secrets", "token",
        "apikey", "apikeys", "authorization", "cookie", "cookies", "credential",
        "credentials", "privatekey", "jwt", "signature", "pwd", "pass", "bearer",
        "sessionid", "sessiontoken",
    }
)  # fmt: skip
_PAIRS = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("session", "id")}
)
#: a word ending in one of these is secret too: PGPASSWORD, dbpasswd
_SUFFIXES = ("password", "passwd")
#: secret as the whole name of a query parameter or header: `?key=AIza...`, `?sig=...`
_PARAM_WORDS = frozenset({"key", "sig"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")

#: substrings every secret name contains; a text without any of them has nothing to mask
_HINTS = (
    "pass", "secret", "token", "key", "authoriz", "cookie", "credential", "jwt", "sig", "pwd",
    "bearer", "session",
)  # fmt: skip
# a candidate `key=value`, `"key": "value"`, `Authorization: Bearer x`, `?api_key=x&...`;
# is_secret_key() decides, so the text and the key rules cannot drift apart
_TEXT_PAIR = re.compile(
    r"""(?ix)
    (?<![\w.-])
    ([\w.-]*?(?:pass|secret|token|key|authoriz|cookie|credential|jwt|sig|pwd|bearer|session)[\w.-]*)
    (["']?\s*[:=]\s*)
    ("[^"]*"|'[^']*'|(?:bearer|basic|token)\s+[^\s,;&'"]+|[^\s,;&'"]+)
    """
)
# `scheme://user:password@` or `scheme://token@` inside free text
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#@:'\"<>]*)(:[^\s/?#@'\"<>]*)?@")


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """True when a field, header, query or config key names a secret (``smtp_password``, ``X-Api-Key``)."""
    words = _SPLIT.split(_CAMEL.sub("_", name).lower())
    if any(w in _WORDS or w.endswith(_SUFFIXES) for w in words):
        return True
    return any(pair in _PAIRS for pair in itertools.pairwise(words))


def is_secret_param(name: str) -> bool:
    """True when a URL query parameter or HTTP header names a secret: a secret key, or ``key``/``sig``."""
    return name.lower() in _PARAM_WORDS or is_secret_key(name)


def scrub_text(text: str) -> str:
    """Mask ``key=value`` / ``key: value`` pairs with a secret key, and URL credentials, in free text."""
    # cheap `in` tests first: almost every message and value has nothing to mask
    if "=" not in text and ":" not in text and "@" not in text:
        return text
    if "@" in text and "://" in text:
        text = _URL_USERINFO.sub(_mask_userinfo, text)
    lower = text.lower()
    for hint in _HINTS:
        if hint in lower:
            return _TEXT_PAIR.sub(_mask_pair, text)
    return text


def mask_url(url: str) -> str:
    """Mask the password (or lone token) and the secret query values of a URL."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, MASK if is_secret_param(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, _mask_netloc(parts.netloc), parts.path, query, parts.fragment))


def mask_capability_url(url: str) -> str:
    """Keep only scheme, user and host of a URL whose path is its secret (Slack, Discord, Teams webhooks).

    ``https://hooks.slack.com/services/T0/B0/XyZ`` -> ``https://hooks.slack.com/***``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        # `hooks.slack.com/services/...` without a scheme: an error message shows the host
        host, slash, path = url.partition("/")
        return f"{host}/{MASK}" if slash and path else url
    rest = "/" + MASK if parts.path.strip("/") or parts.query or parts.fragment else parts.path
    return urlunsplit((parts.scheme, _mask_netloc(parts.netloc), rest, "", ""))


def _mask_netloc(netloc: str) -> str:
    if "@" not in netloc:
        return netloc
    userinfo, _, hostport = netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    # a lone userinfo (`https://TOKEN@host`) is usually a token, so it goes too
    return f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, user, password = match.group(1), match.group(2), match.group(3)
    if password is None:
        return f"{scheme}{MASK}@"
    return f"{scheme}{user}:{MASK}@"


def _mask_pair(match: re.Match[str]) -> str:
    key, sep, value = match.group(1), match.group(2), match.group(3)
    start = match.start()
    in_query = start > 0 and match.string[start - 1] in "?&"
    if not (is_secret_param(key) if in_query else is_secret_key(key)):
        # `monkey: password=x`: the value may hold a pair of its own
        return f"{key}{sep}{scrub_text(value)}"
    if value[0] in "\"'":
        return f"{key}{sep}{value[0]}{MASK}{value[0]}"
    scheme, space, _ = value.partition(" ")
    if space and scheme.lower() in ("bearer", "basic", "token"):
        return f"{key}{sep}{scheme} {MASK}"
    return f"{key}{sep}{MASK}"
