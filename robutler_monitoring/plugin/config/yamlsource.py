"""Reading the YAML config file with a line number for every key, and ``${VAR}`` filled in.

PyYAML's ``safe_load`` forgets where values came from and silently keeps the last of
two equal keys; this module composes the node tree instead, so that every error can
name ``file:line`` and duplicates are reported.

In string values, ``${VAR}`` is replaced by the environment variable ``VAR`` (an error
when it is unset), ``${VAR:-default}`` falls back to ``default`` when ``VAR`` is unset
or empty, and ``$${`` stands for a literal ``${``. Keys are never interpolated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import NOT_GIVEN, Problem
from .keys import KeyPath
from .masking import mask

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class YamlDocument:
    """A parsed config file: plain data plus where each part of it was written.

    ``locations`` has ``file:line`` for every key and list item; ``given`` only for the
    parts that are values as a whole (scalars, lists of scalars, empty mappings), so
    that a key the file leaves out can still be told apart as a default.
    """

    data: Any = None
    locations: dict[KeyPath, str] = field(default_factory=dict)
    given: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    failed: list[KeyPath] = field(default_factory=list)  # values already reported as problems


class InterpolationError(ValueError):
    """A ``${...}`` reference that cannot be filled."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Fill ``${VAR}`` and ``${VAR:-default}`` from ``env``; ``$${`` is a literal ``${``."""

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        inner = match.group(1)
        if inner is None:
            raise InterpolationError("unclosed '${'; write '$${' for a literal '${'")
        name, has_default, default = inner.partition(":-")
        if not _NAME.match(name):
            raise InterpolationError(
                f"bad reference '${{{inner}}}'; expected '${{NAME}}' or '${{NAME:-default}}'"
            )
        value = env.get(name)
        if has_default and not value:
            return default
        if value is None:
            raise InterpolationError(
                f"environment variable {name} is not set (write '${{{name}:-default}}' to allow that)"
            )
        return value

    return _REFERENCE.sub(replace, text)


def load_yaml(path: Path, label: str, env: Mapping[str, str]) -> YamlDocument:
    """Read and parse the file at ``path``; problems are collected, never raised."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problem = f"cannot read the file: not UTF-8 text ({exc.reason} at byte {exc.start})"
        return YamlDocument(problems=[Problem(label, "", NOT_GIVEN, problem)])
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return YamlDocument(problems=[Problem(label, "", NOT_GIVEN, f"cannot read the file: {reason}")])
    return parse_yaml(text, label, env)


def parse_yaml(text: str, label: str, env: Mapping[str, str]) -> YamlDocument:
    """Parse YAML text; ``label`` (the file name) starts every location."""
    doc = YamlDocument()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Builder(loader, label, env, doc).build(node, (), node.start_mark.line + 1)
    except yaml.MarkedYAMLError as exc:
        doc.data = None
        doc.problems.append(_syntax_problem(exc, label))
    except yaml.YAMLError as exc:
        doc.data = None
        doc.problems.append(Problem(label, "", NOT_GIVEN, f"YAML syntax error: {exc}"))
    finally:
        loader.dispose()
    return doc


def _syntax_problem(exc: yaml.MarkedYAMLError, label: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else label
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        message = f"{exc.problem} ({exc.context})"
    return Problem(where, "", NOT_GIVEN, f"YAML syntax error: {message}")


class _Builder:
    """Turns composed YAML nodes into plain data, recording a location for every key."""

    def __init__(
        self, loader: yaml.SafeLoader, label: str, env: Mapping[str, str], doc: YamlDocument
    ) -> None:
        self._loader = loader
        self._label = label
        self._env = env
        self._doc = doc
        self._active: set[int] = set()  # nodes being built, to stop recursive aliases

    def build(self, node: yaml.Node, path: KeyPath, line: int) -> Any:
        where = f"{self._label}:{line}"
        self._doc.locations[path] = where
        if id(node) in self._active:
            self._problem(where, path, "a YAML alias refers to itself")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path, where)
            if isinstance(node, yaml.SequenceNode):
                return self._sequence(node, path, where)
            return self._scalar(node, path, where)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: yaml.Node, path: KeyPath, where: str) -> Any:
        self._doc.given[path] = where
        value = self._loader.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            try:
                return interpolate(value, self._env)
            except InterpolationError as exc:
                self._doc.failed.append(path)
                self._doc.problems.append(Problem(where, _dotted(path), mask(path, value), str(exc)))
                return None
        return value

    def _sequence(self, node: yaml.SequenceNode, path: KeyPath, where: str) -> list[Any]:
        if not any(isinstance(item, yaml.MappingNode) for item in node.value):
            self._doc.given[path] = where
        return [self.build(item, (*path, i), item.start_mark.line + 1) for i, item in enumerate(node.value)]

    def _mapping(self, node: yaml.MappingNode, path: KeyPath, where: str) -> dict[str, Any]:
        self._check_duplicates(node, path)
        self._loader.flatten_mapping(node)  # `<<: *base` merges; later keys override
        if not node.value:
            self._doc.given[path] = where
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = self._key(key_node, path, line)
            if key is not None:
                result[key] = self.build(value_node, (*path, key), line)
        return result

    def _key(self, key_node: yaml.Node, path: KeyPath, line: int) -> str | None:
        if not isinstance(key_node, yaml.ScalarNode):
            self._problem(f"{self._label}:{line}", path, "keys must be plain names, not lists or mappings")
            return None
        return str(self._loader.construct_object(key_node))

    def _check_duplicates(self, node: yaml.MappingNode, path: KeyPath) -> None:
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = str(self._loader.construct_object(key_node))
            line = key_node.start_mark.line + 1
            if key in first_line:
                self._problem(
                    f"{self._label}:{line}",
                    (*path, key),
                    f"duplicate key (already set on line {first_line[key]}); remove one of them",
                )
            else:
                first_line[key] = line

    def _problem(self, where: str, path: KeyPath, message: str) -> None:
        self._doc.problems.append(Problem(where, _dotted(path), NOT_GIVEN, message))


def _dotted(path: KeyPath) -> str:
    return ".".join(str(p) for p in path)
