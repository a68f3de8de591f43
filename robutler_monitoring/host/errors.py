"""Errors that the host turns into one clean line and an exit code, never a traceback."""

from __future__ import annotations


class HostError(Exception):
    """A problem the user can fix (bad TARGET, port in use, bad config): printed as one line."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(HostError):
    """Bad command-line or configuration input: exit code 2, like click's usage errors."""

    exit_code = 2
