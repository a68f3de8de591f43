"""The one table of log levels: names, numbers (loguru's, which are the stdlib's) and aliases.

Used by the config schema, ``get_logger``, the stdlib intercept and the sink alike.

>>> normalize_level("warn"), LEVELS["SUCCESS"], LEVEL_NAMES[40]
('WARNING', 25, 'ERROR')
"""

from __future__ import annotations

from typing import Final

#: Level name -> number, lowest first.
LEVELS: Final[dict[str, int]] = {
    "TRACE": 5,
    "DEBUG": 10,
    "INFO": 20,
    "SUCCESS": 25,
    "WARNING": 30,
    "ERROR": 40,
    "CRITICAL": 50,
}
#: Number -> level name.
LEVEL_NAMES: Final[dict[int, str]] = {number: name for name, number in LEVELS.items()}
#: Other spellings users (and the stdlib) write.
ALIASES: Final[dict[str, str]] = {"WARN": "WARNING", "FATAL": "CRITICAL"}


def normalize_level(name: str) -> str | None:
    """The canonical name of a level in any case or alias, None when there is no such level."""
    upper = name.strip().upper()
    upper = ALIASES.get(upper, upper)
    return upper if upper in LEVELS else None
