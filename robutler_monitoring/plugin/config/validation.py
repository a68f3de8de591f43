"""Pydantic validation errors, said in plain English with the source of each bad value."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .errors import NOT_GIVEN, Problem, did_you_mean
from .keys import KeyPath, clean_loc, dotted, fields_of, is_model, type_at
from .masking import conceal

Locate = Callable[[KeyPath], str]

# unknown keys past this many are reported without a did-you-mean (difflib is slow)
_MAX_DETAILED = 500


def _ctx(err: ErrorDetails, name: str) -> Any:
    value = (err.get("ctx") or {}).get(name)
    # `gt=0` on a float field arrives as 0.0; say "greater than 0" as the schema does
    return int(value) if isinstance(value, float) and value.is_integer() else value


_MESSAGES: dict[str, Callable[[ErrorDetails], str]] = {
    "missing": lambda e: "required key is missing",
    "bool_type": lambda e: "expected true or false",
    "bool_parsing": lambda e: "expected true or false",
    "int_type": lambda e: "expected a whole number",
    "int_parsing": lambda e: "expected a whole number",
    "int_from_float": lambda e: "expected a whole number, not a fraction",
    "float_type": lambda e: "expected a number",
    "float_parsing": lambda e: "expected a number",
    "finite_number": lambda e: "expected a finite number",
    "string_type": lambda e: "expected a string",
    "greater_than": lambda e: f"must be greater than {_ctx(e, 'gt')}",
    "greater_than_equal": lambda e: f"must be at least {_ctx(e, 'ge')}",
    "less_than": lambda e: f"must be less than {_ctx(e, 'lt')}",
    "less_than_equal": lambda e: f"must be at most {_ctx(e, 'le')}",
    "string_too_short": lambda e: (
        "must not be empty"
        if _ctx(e, "min_length") == 1
        else f"must be at least {_ctx(e, 'min_length')} characters"
    ),
    "string_too_long": lambda e: f"must be at most {_ctx(e, 'max_length')} characters",
    "literal_error": lambda e: f"expected one of {_ctx(e, 'expected')}",
    "model_type": lambda e: "expected a mapping of keys to values",
    "model_attributes_type": lambda e: "expected a mapping of keys to values",
    "dict_type": lambda e: "expected a mapping of keys to values",
    "tuple_type": lambda e: "expected a list",
    "list_type": lambda e: "expected a list",
    "too_short": lambda e: f"expected at least {_ctx(e, 'min_length')} items",
    "too_long": lambda e: f"expected at most {_ctx(e, 'max_length')} items",
    "value_error": lambda e: str(_ctx(e, "error") or e["msg"]),
    "assertion_error": lambda e: str(_ctx(e, "error") or e["msg"]),
}


# errors saying a section is not a mapping at all: showing the bad value helps
_SHAPE_ERRORS = frozenset({"model_type", "model_attributes_type", "dict_type"})


def problems_from(
    exc: ValidationError,
    locate: Locate,
    skip: Mapping[KeyPath, object] | None = None,
    concealed: Mapping[KeyPath, str] | None = None,
) -> list[Problem]:
    """One :class:`Problem` per bad key, except under ``skip`` (keys reported already).

    A value at a path in ``concealed`` came from ``${VAR}``: the problem shows the
    reference as written instead.
    """
    problems: list[Problem] = []
    seen: set[KeyPath] = set()
    parents: dict[tuple[str | int, ...], KeyPath] = {}  # 100,000 unknown keys share a few parents
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if err["type"] == "extra_forbidden":  # the last part is the key as written
            parent = parents.get(loc[:-1])
            if parent is None:
                parent = parents[loc[:-1]] = clean_loc(loc[:-1])
            path = (*parent, loc[-1])
        else:
            path = clean_loc(loc)
        if path in seen or _under(path, skip or {}):
            continue
        seen.add(path)
        detailed = len(problems) < _MAX_DETAILED
        problems.append(_problem(err, path, locate(path), concealed or {}, detailed))
    return problems


def _problem(
    err: ErrorDetails,
    path: KeyPath,
    source: str,
    concealed: Mapping[KeyPath, str],
    detailed: bool = True,
) -> Problem:
    kind = err["type"]
    if kind == "extra_forbidden":
        if not detailed:  # past the problems anyone reads: skip the did-you-mean search
            return Problem(source, dotted(path), NOT_GIVEN, "unknown key")
        choices = fields_of(type_at(path[:-1]))
        message = "unknown key" + did_you_mean(str(path[-1]), choices)
        if choices and message == "unknown key":
            message += f"; known keys: {', '.join(choices)}"
        return Problem(source, dotted(path), NOT_GIVEN, message)
    if kind == "missing":
        return Problem(source, dotted(path), NOT_GIVEN, _MESSAGES[kind](err))
    describe = _MESSAGES.get(kind)
    message = describe(err) if describe else err["msg"]
    if is_model(type_at(path)) and kind not in _SHAPE_ERRORS:
        # a check across keys of a section: the message names them; the section is no value
        return Problem(source, dotted(path), NOT_GIVEN, message)
    return Problem(source, dotted(path), conceal(path, err.get("input"), concealed), message)


def _under(path: KeyPath, keys: Mapping[KeyPath, object]) -> bool:
    return any(path[: len(k)] == k for k in keys)
