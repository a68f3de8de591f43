"""Readable, optionally coloured lines for a person at a terminal (``format: console``).

Built from the same masked entry as the JSON line, so the two formats never
disagree about what is logged. Control characters in the message are escaped:
user input cannot forge a line here either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_CONTEXT = ("request_id", "trace_id", "span_id", "agent")
_SKIP = frozenset({"timestamp", "level", "logger", "message", "exception", *_CONTEXT})
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_CYAN = "\x1b[36m"
_GREEN = "\x1b[32m"
_LEVEL_COLOURS = {
    "TRACE": "\x1b[36m",
    "DEBUG": "\x1b[34m",
    "INFO": "\x1b[1m",
    "SUCCESS": "\x1b[1;32m",
    "WARNING": "\x1b[1;33m",
    "ERROR": "\x1b[1;31m",
    "CRITICAL": "\x1b[1;41m",
}


def render_console(entry: Mapping[str, Any], colour: bool, traceback: str | None = None) -> str:
    """``12:00:00.123 INFO     uvicorn.error [req] message key=value`` (+ traceback lines)."""
    time_part = entry["timestamp"][11:23]
    level = entry["level"]
    message = _escape(entry["message"])
    context = " ".join(f"{key}={entry[key]}" for key in _CONTEXT if key in entry and key != "span_id")
    fields = " ".join(f"{k}={_value(v)}" for k, v in entry.items() if k not in _SKIP)
    if "exception" in entry and traceback is None:
        traceback = entry["exception"]["traceback"]
    if colour:
        tone = _LEVEL_COLOURS.get(level, "")
        line = (
            f"{_GREEN}{time_part}{_RESET} {tone}{level:<8}{_RESET} {_CYAN}{entry['logger']}{_RESET}"
            f" {tone}{message}{_RESET}"
        )
        extras = " ".join(part for part in (fields, context) if part)
        if extras:
            line += f" {_DIM}{extras}{_RESET}"
    else:
        line = " ".join(
            part for part in (time_part, f"{level:<8}", entry["logger"], message, fields, context) if part
        )
    if traceback:
        line += "\n" + traceback.rstrip("\n")
    return line + "\n"


def _escape(text: str) -> str:
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _value(value: Any) -> str:
    if isinstance(value, str):
        needs_quotes = not value or any(c in value for c in ' "=') or _CONTROL.search(value)
        return json.dumps(value) if needs_quotes else value
    try:
        return json.dumps(value, default=repr, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)
