"""The Robutler SDK's own log lines under robutler-monitoring's logging.

- **Levels.** The SDK sets its loggers' levels itself (``robutler`` to INFO when imported,
  ``robutler.base_agent`` from its own ``LOG_LEVEL`` variable each time an agent is
  built), so ``ROBUTLER_LOG_LEVEL=DEBUG`` alone showed none of its DEBUG lines.
  :func:`inherit_levels` resets them, so they follow the root level, which is ours.
- **Conversation text.** At DEBUG the SDK previews messages, model answers, tool
  arguments and tool results. :class:`ContentFilter` replaces those parts with
  :data:`HIDDEN` and keeps the rest of the line, unless the user opted in with
  ``monitoring.tracing.capture_content`` (the switch for prompt text on spans).
- **Request lines.** The SDK's ``RequestLoggingMiddleware`` writes two lines per
  request (``POST /x`` and ``200 - 0.008s``) that repeat the access record:
  :func:`drop_request_logging` removes the middleware (method, path, status and
  duration are all in the access record), or filters its lines when the app's
  middleware stack is already built.

The patterns below are robutler 0.2.0's messages (the ``[sdk]`` extra pins it).
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: what replaces conversation text in the SDK's DEBUG lines
HIDDEN = "[content hidden: set monitoring.tracing.capture_content]"
SDK_LOGGER = "robutler"
#: the SDK's request lines (two per request, beside the access record)
MIDDLEWARE_LOGGER = "robutler.server.middleware"
_SDK_MIDDLEWARE = "RequestLoggingMiddleware"

_S = re.DOTALL
#: per SDK logger: (pattern, the groups kept around the hidden text)
CONTENT_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "robutler.base_agent": (
        # "  [0] USER: <preview>", "  [2] TOOL[call_1]: <preview>", "... | TOOL_CALLS: [...]"
        re.compile(r"^(  \[\d+\] [A-Z_]+(?:\[[^\]]*\])?: )(.*?)( \| TOOL_CALLS: \[.*\])?$", _S),
        re.compile(r"^(  Content: )(.*)()$", _S),
        re.compile(r"^(    \[\d+\] [^\[\]]*\[[^\]]*\]: )(.*)()$", _S),  # a tool call's arguments
        re.compile(r"^(.* - Executing tool: \S+ with args: )(.*)()$", _S),
        re.compile(r"^(.* - Tool result for \S+: )(.*)()$", _S),
        re.compile(r"^(.* Processing \d+ tool call\(s\): )(.*)()$", _S),
        re.compile(r"^(.*Tool success name=.* result_preview=')(.*)(\.\.\.' \(len=\d+\))$", _S),
    ),
    "robutler.skill.llm.litellm": (re.compile(r"^(Parameters: )(.*)()$", _S),),  # holds the messages
}


class ContentFilter(logging.Filter):
    """Replaces the conversation text in one SDK logger's DEBUG lines with :data:`HIDDEN`.

    >>> f = ContentFilter("robutler.base_agent")
    >>> record = logging.LogRecord("robutler.base_agent", 10, "", 0, "  [1] USER: my secret", None, None)
    >>> f.filter(record), record.msg
    (True, '  [1] USER: [content hidden: set monitoring.tracing.capture_content]')
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.patterns = CONTENT_PATTERNS.get(name, ())

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True  # the SDK previews content at DEBUG only
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: the handler shows what it can
            return True
        for pattern in self.patterns:
            found = pattern.match(message)
            if found is not None:
                record.msg = found.group(1) + HIDDEN + (found.group(3) or "")
                record.args = None
                break
        return True


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


def inherit_levels() -> None:
    """Let the SDK's loggers follow the root level (robutler-monitoring's), as every other logger does."""
    manager = logging.Logger.manager
    for name, named in list(manager.loggerDict.items()):
        if (name == SDK_LOGGER or name.startswith(SDK_LOGGER + ".")) and isinstance(named, logging.Logger):
            named.setLevel(logging.NOTSET)


def hide_content(capture_content: bool) -> None:
    """Hide conversation text in the SDK's DEBUG lines unless ``capture_content`` (idempotent)."""
    for name in CONTENT_PATTERNS:
        named = logging.getLogger(name)
        for old in [f for f in named.filters if isinstance(f, ContentFilter)]:
            named.removeFilter(old)
        if not capture_content:
            named.addFilter(ContentFilter(name))


def adopt_sdk_logging(capture_content: bool) -> None:
    """The SDK's lines at robutler-monitoring's level, conversation text only with the opt-in."""
    inherit_levels()
    hide_content(capture_content)


def drop_request_logging(app: Any) -> None:
    """No SDK request lines for ``app`` (a ``RobutlerServer``'s FastAPI app): the access record has it all."""
    middleware = getattr(app, "user_middleware", None)
    if isinstance(middleware, list):
        kept = [m for m in middleware if getattr(getattr(m, "cls", None), "__name__", "") != _SDK_MIDDLEWARE]
        if len(kept) != len(middleware) and getattr(app, "middleware_stack", None) is None:
            app.user_middleware = kept  # the stack is built at the first request: without it
            return
    named = logging.getLogger(MIDDLEWARE_LOGGER)
    if not any(isinstance(f, _DropAll) for f in named.filters):
        named.addFilter(_DropAll())
