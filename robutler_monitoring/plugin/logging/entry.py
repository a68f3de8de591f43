"""The flat log entry every line is made of, and its JSON encoding.

Key order: ``timestamp``, ``level``, ``logger``, ``message``; then the context fields
that are known (``request_id``, ``trace_id``, ``span_id``, ``agent``); then the record's
own fields; then ``exception``. A field whose name is one of the reserved keys is
renamed ``field_<name>``, so no caller can overwrite (or forge) a schema key; an
``agent`` field fills the ``agent`` context key when no agent run set it, and is
dropped when it repeats it.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from ...events import current_operation
from ..http.context import request_id_var
from ..secrets import scrub_text
from .redact import redact_field
from .trace_ids import current_trace_ids

RESERVED = (
    "timestamp", "level", "logger", "message",
    "request_id", "trace_id", "span_id", "agent", "exception",
)  # fmt: skip
_RESERVED = frozenset(RESERVED)
#: extra keys the logging package uses internally; never written out
INTERNAL = frozenset({"_logger", "_request_id"})
_MAX_DEPTH = 32

_second: tuple[int, str] = (-1, "")
#: ".000Z" ... ".999Z": the millisecond part without a format call per line
MILLIS = tuple(f".{i:03d}Z" for i in range(1000))


def utc_second(sec: int) -> str:
    """``2024-05-01T12:00:00`` for a whole Unix second: a timestamp up to its milliseconds (``MILLIS``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


def iso_utc(ts: float) -> str:
    """``2024-05-01T12:00:00.123Z`` for a Unix timestamp (the second is formatted once)."""
    global _second
    sec = int(ts)
    cached_sec, prefix = _second
    if sec != cached_sec:
        prefix = utc_second(sec)
        _second = (sec, prefix)
    return prefix + MILLIS[int((ts - sec) * 1000)]


def exception_info(
    exc_type: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
) -> dict[str, str]:
    """The structured ``exception`` field: type, message and the plain traceback text."""
    if exc_type is None:
        exc_type = type(value) if value is not None else BaseException
    module = getattr(exc_type, "__module__", "builtins")
    name = exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"
    try:
        message = str(value) if value is not None else ""
    except Exception:  # a broken __str__ must not lose the line
        message = f"<unprintable {name}>"
    text = "".join(traceback.format_exception(exc_type, value, tb))
    # `ValueError("password=...")` repeats its message in the traceback: scrub both
    return {"type": name, "message": scrub_text(message), "traceback": scrub_text(text.rstrip("\n"))}


def build_entry(
    ts: float,
    level: str,
    logger: str,
    message: str,
    fields: Mapping[str, Any],
    exception: dict[str, str] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """One flat, masked log entry, with the context of the calling task filled in."""
    entry: dict[str, Any] = {
        "timestamp": iso_utc(ts),
        "level": level,
        "logger": logger,
        "message": scrub_text(message.rstrip()),  # uvicorn ends some messages with "\n"
    }
    op = current_operation()  # the agent run, tool call or request this line is written in
    rid = request_id or fields.get("_request_id") or request_id_var.get()
    if rid is None and op is not None:
        rid = op.request_id
    if rid is not None:
        entry["request_id"] = rid
    trace_id, span_id = current_trace_ids()
    if trace_id is not None:
        entry["trace_id"] = trace_id
        entry["span_id"] = span_id
    agent = op.agent if op is not None else None
    explicit_agent = fields.get("agent")
    if agent is None and isinstance(explicit_agent, str):
        agent = explicit_agent  # `extra={"agent": ...}` outside an agent run names the agent
    if agent is not None:
        entry["agent"] = agent
    for key, value in fields.items():
        if key in INTERNAL or (key == "agent" and value == agent):
            continue
        name = key if type(key) is str else str(key)
        out = name
        while out in _RESERVED or out in entry:
            out = "field_" + out
        entry[out] = redact_field(name, value)
    if exception is not None:
        entry["exception"] = exception
    return entry


def _default(value: Any) -> Any:
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray):
        return scrub_text(bytes(value).decode("utf-8", "backslashreplace"))
    if isinstance(value, set | frozenset):
        return list(value)
    try:
        text = f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else repr(value)
    except Exception:  # a broken __str__ or __repr__ must not lose the line
        return f"<unrepresentable {type(value).__name__}>"
    return scrub_text(text)  # `Cfg(password='x')`: a repr shows the fields


# ensure_ascii escapes every control character and U+2028/U+2029, so a line never splits
_encode = json.JSONEncoder(ensure_ascii=True, allow_nan=False, default=_default, separators=(",", ":")).encode


def to_json(entry: Mapping[str, Any]) -> str:
    """One JSON line (no newline) for ``entry``, whatever its values hold."""
    try:
        return _encode(entry)
    except (TypeError, ValueError, RecursionError):
        # non-string keys, NaN, cycles, odd objects: the slow path makes everything plain
        return _encode(_plain(entry, 0))


def _plain(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return "<nested too deep>"
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value]
    out = _default(value)
    return out if isinstance(out, str) else _plain(out, depth + 1)
