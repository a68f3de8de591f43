"""Monitoring settings from environment variables.

Naming scheme: ``ROBUTLER_MONITORING__<KEY>__<SUBKEY>...``, with ``__`` between levels
and key names upper-cased::

    ROBUTLER_MONITORING__ENABLED=false            -> monitoring.enabled
    ROBUTLER_MONITORING__METRICS__ENDPOINT=/prom  -> monitoring.metrics.endpoint
    ROBUTLER_MONITORING__HEALTH_CHECKS__DETAILED_ENDPOINT=/hz
                                                  -> monitoring.health_checks.detailed_endpoint
    ROBUTLER_MONITORING__ALERTS__EMAIL__PASSWORD  -> monitoring.alerts.email.password
    ROBUTLER_MONITORING__ALERTS__WEBHOOKS='[{"url": "https://hooks.example.com"}]'

``ROBUTLER_MONITORING__EMAIL__...`` is accepted as well and means ``alerts.email``,
like ``monitoring.email`` in the file.

Values of text keys (strings, passwords, names such as ``json``) are taken verbatim.
Every other value is read as a YAML scalar or flow value, so ``true``, ``10``, ``2.5``,
``["a", "b"]`` and ``[{"url": "http://..."}]`` work. A variable must name a value,
not a whole section; a variable naming an unknown key is an error.

Shortcuts: ``ROBUTLER_LOG_LEVEL`` -> ``logging.level``, ``ROBUTLER_LOG_FORMAT`` ->
``logging.format``, ``ROBUTLER_MONITORING_TOKEN`` -> ``auth_token``. Setting a shortcut
and its long form to the same value is fine; to different values, an error.

The standard ``OTEL_*`` variables set ``tracing.*`` keys (see ``plugin/tracing/env.py``);
``ROBUTLER_MONITORING__TRACING__*`` wins where both are set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import NOT_GIVEN, Problem, closest
from .keys import ROOT, KeyPath, dotted, fields_of, is_model, is_text, type_at
from .masking import mask
from .yamlsource import parse_yaml

PREFIX = "ROBUTLER_MONITORING__"
SEPARATOR = "__"

#: Short variable names for the settings people change most.
SHORTCUTS: dict[str, KeyPath] = {
    "ROBUTLER_LOG_LEVEL": ("logging", "level"),
    "ROBUTLER_LOG_FORMAT": ("logging", "format"),
    "ROBUTLER_MONITORING_TOKEN": ("auth_token",),
}

# `email` at the top of the section is another name for `alerts.email` (as in the file)
_ALIASES: dict[str, KeyPath] = {"email": ("alerts", "email")}


@dataclass(frozen=True)
class EnvValue:
    """One setting taken from one environment variable."""

    path: KeyPath
    value: Any
    variable: str

    @property
    def source(self) -> str:
        """The source label, e.g. ``env ROBUTLER_LOG_LEVEL``."""
        return f"env {self.variable}"


def variable_name(path: KeyPath) -> str:
    """The variable for a key path: ``("metrics", "endpoint")`` -> ``..._METRICS__ENDPOINT``."""
    return PREFIX + SEPARATOR.join(str(p).upper() for p in path)


def read_env(env: Mapping[str, str]) -> tuple[list[EnvValue], list[Problem]]:
    """All monitoring settings in ``env``, and the problems with the variables that are wrong."""
    values: dict[KeyPath, EnvValue] = {}
    problems: list[Problem] = []
    for variable in sorted(env):
        if not variable.startswith(PREFIX):
            continue
        path, problem = _path_of(variable)
        if problem is not None:
            problems.append(problem)
            continue
        found = _value(path, env[variable], variable, problems)
        if found is None:
            continue
        earlier = values.get(path)  # ..._EMAIL__X and ..._ALERTS__EMAIL__X name one key
        if earlier is not None and earlier.value != found.value:
            problems.append(_conflict(found, earlier))
        values[path] = found
    for variable, path in SHORTCUTS.items():
        if variable not in env:
            continue
        found = _value(path, env[variable], variable, problems)
        if found is None:
            continue
        long_form = values.get(path)
        if long_form is not None and long_form.value != found.value:
            problems.append(_conflict(found, long_form))
        values.setdefault(path, found)
    _read_otel(env, values, problems)
    return list(values.values()), problems


def _read_otel(env: Mapping[str, str], values: dict[KeyPath, EnvValue], problems: list[Problem]) -> None:
    """The standard ``OTEL_*`` variables; this package's own variables win over them."""
    from ..tracing.env import OTEL_VARIABLES

    for variable, (path, convert) in OTEL_VARIABLES.items():
        raw = env.get(variable)
        if raw is None or not raw.strip() or path in values:
            continue
        try:
            values[path] = EnvValue(path, convert(raw), variable)
        except ValueError as exc:
            problems.append(Problem(f"env {variable}", dotted(path), raw, str(exc)))


def _conflict(found: EnvValue, other: EnvValue) -> Problem:
    path = found.path
    return Problem(
        found.source,
        dotted(path),
        mask(path, found.value),
        f"conflicts with {other.variable}={mask(path, other.value)!r}; set only one of them",
    )


def _path_of(variable: str) -> tuple[KeyPath, Problem | None]:
    parts = variable[len(PREFIX) :].split(SEPARATOR)
    path: list[str] = []
    for i, raw in enumerate(parts):
        name = raw.lower()
        if i == 0 and name in _ALIASES:
            path.extend(str(p) for p in _ALIASES[name])
            continue
        parent = type_at(tuple(path))
        choices = fields_of(parent) if parent is not None else []
        if not name or name not in choices:
            return (), _unknown(variable, (*path, name), choices, parts[i + 1 :])
        path.append(name)
    key_path = tuple(path)
    if is_model(type_at(key_path)):
        example = variable_name((*key_path, fields_of(type_at(key_path))[0]))
        message = f"names a whole section; set its keys one by one, e.g. {example}"
        return (), Problem(f"env {variable}", dotted(key_path), NOT_GIVEN, message)
    return key_path, None


def _unknown(variable: str, path: KeyPath, choices: list[str], rest: list[str]) -> Problem:
    parent, name = path[:-1], str(path[-1])
    if not choices:
        message = f"{dotted(parent)} has no sub-keys"
    else:
        message = "unknown key"
        close = closest(name, choices)
        if close is not None:
            message += f"; did you mean {variable_name((*parent, close, *rest))!r}?"
    return Problem(f"env {variable}", dotted(path), NOT_GIVEN, message)


def _value(path: KeyPath, raw: str, variable: str, problems: list[Problem]) -> EnvValue | None:
    if is_text(type_at(path)):
        return EnvValue(path, raw, variable)
    if not raw.strip():
        return EnvValue(path, None, variable)
    # the file's reader, with its limits (aliases, nesting, tags), without ${VAR} filling
    doc = parse_yaml(raw, f"env {variable}", {}, root=(ROOT, *path), with_lines=False, expand_env=False)
    if doc.problems:
        for problem in doc.problems:
            if problem.message.startswith("YAML syntax error"):
                message = problem.message.replace("YAML syntax error", "not a valid YAML value", 1)
                problem = Problem(problem.source, dotted(path), mask(path, raw), message)
            problems.append(problem)
        return None
    return EnvValue(path, doc.data, variable)
