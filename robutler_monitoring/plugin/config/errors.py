"""Configuration problems: what was wrong, where it came from, and how it reads on one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class Concealed:
    """A value that came from an environment reference: errors show the reference, never the value.

    >>> str(Problem("robutler.yaml:3", "monitoring.tracing.service_name",
    ...             Concealed("${SMTP_PASSWORD}"), "too long"))
    'robutler.yaml:3: monitoring.tracing.service_name = ${SMTP_PASSWORD} (value not shown): too long'
    """

    def __init__(self, written: str) -> None:
        self.written = written

    def __repr__(self) -> str:
        return f"{self.written} (value not shown)"


class _NotGiven:
    """Marks a problem that has no value to show (a missing key, a syntax error)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()

_MAX_VALUE_CHARS = 80

#: problems printed in full; past these, one "... and N more" line (a file of 188,452
#: unknown keys once printed every one of them)
MAX_SHOWN = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration.

    >>> str(Problem("robutler.yaml:7", "monitoring.metrics.collect_interval", -1,
    ...             "must be greater than 0"))
    'robutler.yaml:7: monitoring.metrics.collect_interval = -1: must be greater than 0'
    """

    source: str
    key: str
    value: Any
    message: str

    def __str__(self) -> str:
        parts = [self.source]
        if self.key:
            key = self.key if self.value is NOT_GIVEN else f"{self.key} = {_show(self.value)}"
            parts.append(key)
        parts.append(self.message)
        return ": ".join(parts)


class ConfigError(Exception):
    """Every problem found in the config file and environment, reported together.

    >>> err = ConfigError([Problem("env ROBUTLER_LOG_LEVEL", "monitoring.logging.level",
    ...                            "LOUD", "unknown log level")])
    >>> str(err)
    "env ROBUTLER_LOG_LEVEL: monitoring.logging.level = 'LOUD': unknown log level"
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(self._lines()))

    def report(self) -> str:
        """A heading and one indented line per problem (the first :data:`MAX_SHOWN`), for the terminal."""
        count = len(self.problems)
        heading = f"invalid configuration ({count:,} problem{'' if count == 1 else 's'}):"
        return "\n".join([heading, *(f"  {line}" for line in self._lines())])

    def _lines(self) -> list[str]:
        lines = [str(p) for p in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            lines.append(f"... and {len(self.problems) - MAX_SHOWN:,} more")
        return lines


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice closest to a misspelt ``name``, if any is close enough."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest choice, or an empty string."""
    close = closest(name, choices)
    return f"; did you mean {close!r}?" if close else ""


def expected_one_of(choices: Sequence[str]) -> str:
    """``expected one of 'a', 'b'`` for an error message."""
    return "expected one of " + ", ".join(repr(c) for c in choices)


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text
