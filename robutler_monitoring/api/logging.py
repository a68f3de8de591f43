"""``get_logger(name)``: the stdlib-style logger of the product docs, backed by loguru.

>>> from robutler_monitoring import get_logger
>>> logger = get_logger("my_agent")
>>> logger.info("Processing request", extra={"user_id": 42, "operation": "chat_completion"})
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeAlias

from loguru import logger as _loguru

from ..levels import ALIASES, LEVEL_NAMES

ExcInfo: TypeAlias = (
    bool
    | BaseException
    | tuple[type[BaseException], BaseException, TracebackType | None]
    | tuple[None, None, None]
    | None
)


class Logger:
    """A named logger with the stdlib API; fields come from ``extra=``, keywords or ``bind()``.

    >>> log = get_logger("billing").bind(tenant="acme")
    >>> log.warning("Quota at %d%%", 91, extra={"quota": "tokens"}, remaining=9)
    >>> try:
    ...     1 / 0
    ... except ZeroDivisionError:
    ...     log.exception("Charge failed")
    """

    __slots__ = ("_fields", "_logger", "name")

    def __init__(self, name: str, fields: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self._fields = dict(fields or {})
        self._logger = _loguru.bind(**self._fields, _logger=name)

    def bind(self, **fields: Any) -> Logger:
        """A logger that adds ``fields`` to every line it writes."""
        return Logger(self.name, {**self._fields, **fields})

    def trace(self, msg: object, /, *args: object, **kw: Any) -> None:
        """Log at TRACE."""
        self._log("TRACE", msg, args, **kw)

    def debug(self, msg: object, /, *args: object, **kw: Any) -> None:
        """Log at DEBUG."""
        self._log("DEBUG", msg, args, **kw)

    def info(self, msg: object, /, *args: object, **kw: Any) -> None:
        """Log at INFO."""
        self._log("INFO", msg, args, **kw)

    def success(self, msg: object, /, *args: object, **kw: Any) -> None:
        """Log at SUCCESS (loguru's level between INFO and WARNING)."""
        self._log("SUCCESS", msg, args, **kw)

    def warning(self, msg: object, /, *args: object, **kw: Any) -> None:
        """Log at WARNING."""
        self._log("WARNING", msg, args, **kw)

    warn = warning

    def error(self, msg: object, /, *args: object, **kw: Any) -> None:
        """Log at ERROR."""
        self._log("ERROR", msg, args, **kw)

    def exception(self, msg: object, /, *args: object, exc_info: ExcInfo = True, **kw: Any) -> None:
        """Log at ERROR with the exception being handled."""
        self._log("ERROR", msg, args, exc_info=exc_info, **kw)

    def critical(self, msg: object, /, *args: object, **kw: Any) -> None:
        """Log at CRITICAL."""
        self._log("CRITICAL", msg, args, **kw)

    fatal = critical

    def log(self, level: int | str, msg: object, /, *args: object, **kw: Any) -> None:
        """Log at ``level``: a stdlib number (``logging.INFO``) or a level name."""
        if isinstance(level, int):
            name = LEVEL_NAMES.get(level)
            self._log(name or level, msg, args, **kw)  # type: ignore[arg-type]
        else:
            upper = level.upper()
            self._log(ALIASES.get(upper, upper), msg, args, **kw)

    def _log(
        self,
        level: str,
        msg: object,
        args: tuple[object, ...],
        /,
        *,
        exc_info: ExcInfo = None,
        extra: Mapping[str, Any] | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        **fields: Any,
    ) -> None:
        del stack_info, stacklevel  # accepted for stdlib compatibility
        message = _render(msg, args)
        target = self._logger
        if extra or fields:
            merged = {str(k): v for k, v in (extra or {}).items()}
            merged.update(fields)
            target = target.bind(**merged)
        # depth=2: loguru's location is the caller of info()/error(), not this module
        target.opt(depth=2, exception=exc_info or None).log(level, message)

    def __repr__(self) -> str:
        return f"<Logger {self.name!r}>"


def get_logger(name: str) -> Logger:
    """A logger whose lines carry ``"logger": name``; configure output with ``robutler serve``."""
    return Logger(name)


def _render(msg: object, args: tuple[object, ...]) -> str:
    text = msg if isinstance(msg, str) else str(msg)
    if not args:
        return text
    # stdlib-style "%s" placeholders, or loguru-style "{}" ones
    try:
        return text % args if "%" in text or "{" not in text else text.format(*args)
    except (TypeError, ValueError, KeyError, IndexError):  # keep the data rather than lose the line
        return f"{text} {args!r}"
