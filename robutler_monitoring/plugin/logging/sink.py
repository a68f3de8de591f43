"""The loguru sink: a loguru record becomes one masked entry, rendered as JSON or console text.

The sink runs in the thread (and the context) of the code that logged, so the
request id, agent and trace ids it reads are those of the request being served.
Rendering happens there too; only the finished line is queued for the writer thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ...levels import LEVELS
from ..secrets import scrub_text
from .console import render_console
from .entry import build_entry, exception_info, to_json
from .writer import LineWriter

#: loguru's level numbers, used by the direct path (the access log)
LEVEL_NUMBERS = LEVELS


class LogSink:
    """Render records for ``writer`` in ``fmt`` (``"json"`` or ``"console"``).

    Add it to loguru with ``format=""`` so loguru itself formats nothing but the
    exception (used by the console format, with ``diagnose`` as configured).

    >>> # sink = LogSink(writer, "json", min_level="INFO")
    >>> # loguru.logger.add(sink, level="INFO", format="")
    """

    def __init__(self, writer: LineWriter, fmt: str, min_level: str = "INFO", colour: bool = False) -> None:
        self.writer = writer
        self.json = fmt == "json"
        self.colour = colour
        self.min_levelno = LEVEL_NUMBERS[min_level]

    def __call__(self, message: Any) -> None:
        """Loguru calls this with each formatted message; ``message.record`` is the record."""
        record = message.record
        extra = record["extra"]
        exc = record["exception"]
        exception = exception_info(exc.type, exc.value, exc.traceback) if exc else None
        entry = build_entry(
            record["time"].timestamp(),
            record["level"].name,
            extra.get("_logger") or record["name"] or "",
            record["message"],
            extra,
            exception,
        )
        if self.json:
            self.writer.write(to_json(entry) + "\n")
        else:
            # loguru's own exception text: coloured, with variable values when diagnose is on
            traceback = scrub_text(str(message).strip("\n")) if exc else None
            self.writer.write(render_console(entry, self.colour, traceback))

    def emit(
        self,
        level: str,
        logger: str,
        message: str,
        fields: Mapping[str, Any],
        request_id: str | None = None,
    ) -> None:
        """Write one entry without going through loguru: the hot path of the access log."""
        if LEVEL_NUMBERS[level] < self.min_levelno:
            return
        entry = build_entry(time.time(), level, logger, message, fields, None, request_id)
        if self.json:
            self.writer.write(to_json(entry) + "\n")
        else:
            self.writer.write(render_console(entry, self.colour))
