"""Hand stdlib ``logging`` records (uvicorn, httpx, apprise, the SDK, the user's code) to loguru.

An :class:`InterceptHandler` on the root logger hands every record to loguru with
the stdlib logger's name and its ``extra`` fields; ``routing.py`` keeps it the one
place records go to.
"""

from __future__ import annotations

import logging
from typing import Any

from loguru import logger as _loguru

from ...levels import LEVEL_NAMES, LEVELS

#: attributes every LogRecord has; anything else came in through ``extra=``
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName",
    "color_message",  # uvicorn's ANSI copy of the message
}  # fmt: skip
STDLIB_LEVELS = LEVELS  # loguru's numbers are the stdlib's
_SDK_PREFIX = "robutler."  # the Robutler SDK's loggers
_SDK_NO_AGENT = "core"


class InterceptHandler(logging.Handler):
    """A stdlib handler that re-emits each record through loguru.

    >>> # logging.getLogger().handlers = [InterceptHandler()]
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Hand ``record`` to loguru with its logger name, fields and exception."""
        level: str | int = LEVEL_NAMES.get(record.levelno) or record.levelno
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep what we have rather than lose the line
            message = f"{record.msg!r} {record.args!r}"
        fields: dict[str, Any] = {
            k: v
            for k, v in record.__dict__.items()
            # a bare ``object()`` is a library's private marker (LiteLLM stamps every record
            # it redacted with one), never data: it would only print as "<object at 0x...>"
            if k not in _STANDARD and type(k) is str and type(v) is not object
        }
        sdk_agent = fields.pop("agent_name", None)
        if sdk_agent is not None and record.name.startswith(_SDK_PREFIX):
            # the SDK's AgentContextAdapter names the agent ``agent_name``; its "core" (BaseAgent's
            # own logger) is no agent: the agent run the line is written in supplies ``agent``
            if isinstance(sdk_agent, str) and sdk_agent != _SDK_NO_AGENT and "agent" not in fields:
                fields["agent"] = sdk_agent
        elif sdk_agent is not None:
            fields["agent_name"] = sdk_agent
        if record.stack_info:
            fields["stack_info"] = record.stack_info
        fields["_logger"] = record.name
        exc_info = record.exc_info if record.exc_info and record.exc_info[0] else None
        target = _loguru.bind(**fields)
        if exc_info is not None:
            target = target.opt(exception=exc_info)
        target.log(level, message)
