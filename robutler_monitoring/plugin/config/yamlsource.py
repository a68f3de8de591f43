"""Reading the YAML config file with a line number for every key, and ``${VAR}`` filled in.

PyYAML's ``safe_load`` forgets where values came from and silently keeps the last of
two equal keys; this module composes the node tree instead, so that every error can
name ``file:line`` and duplicates are reported.

In string values, ``${VAR}`` is replaced by the environment variable ``VAR`` (an error
when it is unset), ``${VAR:-default}`` falls back to ``default`` when ``VAR`` is unset
or empty, and ``$${`` stands for a literal ``${``. Keys are never interpolated.

A hostile or broken file is a list of problems, never a crash or a hang: aliases
(``*name``) and merge keys (``<<``) may not expand past :data:`MAX_EXPANDED` values
(a "billion laughs" file of a few hundred bytes would otherwise build gigabytes),
nesting stops at :data:`MAX_DEPTH`, and only the standard YAML tags are read
(``!!python/object`` and custom ``!tags`` are refused, not ignored).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer

from .errors import NOT_GIVEN, Problem
from .keys import KeyPath
from .masking import mask

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_YAML_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _YAML_TAG + "merge"

#: aliases (``*name``) one document may hold
MAX_ALIASES = 1_000
#: values that aliases and merge keys may add to a document, beyond those written out
MAX_EXPANDED = 10_000
#: levels of lists and mappings inside each other
MAX_DEPTH = 64

# the tags SafeLoader resolves plain YAML to; anything else (`!!python/object:...`,
# `!custom`) would be silently read as a plain value
_STANDARD_TAGS: dict[type[yaml.Node], frozenset[str]] = {
    yaml.ScalarNode: frozenset(
        _YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")
    ),
    yaml.SequenceNode: frozenset({_YAML_TAG + "seq"}),
    yaml.MappingNode: frozenset({_YAML_TAG + "map"}),
}


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
    #: values filled in from ``${VAR}``, with the text as written: errors show that instead
    from_env: dict[KeyPath, str] = field(default_factory=dict)


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


def parse_yaml(
    text: str,
    label: str,
    env: Mapping[str, str],
    *,
    root: KeyPath = (),
    with_lines: bool = True,
    expand_env: bool = True,
) -> YamlDocument:
    """Parse YAML text; ``label`` (the file name) starts every location.

    ``root`` is the key path the text sits at, ``with_lines=False`` names every
    location by ``label`` alone (an environment variable), and ``expand_env=False``
    leaves ``${...}`` as written.
    """
    doc = YamlDocument()
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # the pure-Python reader checks at once
        doc.problems.append(_reader_problem(exc, text, label, with_lines))
        return doc
    try:
        node = loader.get_single_node()
        if node is not None:
            builder = _Builder(loader, label, env if expand_env else None, doc, with_lines)
            doc.data = builder.build(node, root, node.start_mark.line + 1)
    except _LimitExceeded as exc:
        doc.data = None
        doc.problems.append(Problem(exc.where, "", NOT_GIVEN, exc.message))
    except yaml.reader.ReaderError as exc:  # libyaml's reader, while parsing
        doc.data = None
        doc.problems.append(_reader_problem(exc, text, label, with_lines))
    except yaml.MarkedYAMLError as exc:
        doc.data = None
        doc.problems.append(_syntax_problem(exc, label, with_lines))
    except yaml.YAMLError as exc:
        doc.data = None
        doc.problems.append(Problem(label, "", NOT_GIVEN, f"YAML syntax error: {exc}"))
    finally:
        loader.dispose()
    return doc


def _reader_problem(exc: yaml.reader.ReaderError, text: str, label: str, with_lines: bool) -> Problem:
    # a NUL or another control character: PyYAML refuses it before parsing starts
    position = exc.position if isinstance(exc.position, int) else 0
    if _Base is not yaml.SafeLoader:  # libyaml counts bytes of the UTF-8 text
        position = len(text.encode("utf-8")[:position].decode("utf-8", "ignore"))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
    where = f"{label}:{line}:{column}" if with_lines else label
    message = f"YAML syntax error: control character U+{char:04X} is not allowed"
    if not with_lines:
        message += f" (at column {column})"
    return Problem(where, "", NOT_GIVEN, message)


def _syntax_problem(exc: yaml.MarkedYAMLError, label: str, with_lines: bool = True) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        message = f"{exc.problem} ({exc.context})"
    if not with_lines:
        column = f" at column {mark.column + 1}" if mark else ""
        return Problem(label, "", NOT_GIVEN, f"YAML syntax error{column}: {message}")
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else label
    return Problem(where, "", NOT_GIVEN, f"YAML syntax error: {message}")


class _LimitExceeded(Exception):
    """The document is too big once expanded, or nested too deep: stop building at once."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


# libyaml's parser (when PyYAML has it) reads a 2 MB file in seconds, where the pure-Python
# one takes most of a minute; the composer stays PyYAML's Python one, so that aliases and
# nesting can be counted (libyaml's own composer recurses in C without a limit)
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(Composer, _Base):  # type: ignore[misc]
    """A safe loader that counts aliases and nesting while it composes the node tree."""

    def __init__(self, stream: str) -> None:
        _Base.__init__(self, stream)
        Composer.__init__(self)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"more than {MAX_ALIASES} aliases ('*name'); write the values out",
                    event.start_mark,
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Builder:
    """Turns composed YAML nodes into plain data, recording a location for every key."""

    def __init__(
        self,
        loader: _Loader,
        label: str,
        env: Mapping[str, str] | None,
        doc: YamlDocument,
        with_lines: bool = True,
    ) -> None:
        self._loader = loader
        self._label = label
        self._env = env
        self._doc = doc
        self._with_lines = with_lines
        self._active: set[int] = set()  # nodes being built, to stop recursive aliases
        self._seen: set[int] = set()  # nodes built at least once
        self._built = 0  # nodes built, counting each alias expansion again

    def _where(self, line: int) -> str:
        return f"{self._label}:{line}" if self._with_lines else self._label

    def build(self, node: yaml.Node, path: KeyPath, line: int) -> Any:
        where = self._where(line)
        self._doc.locations[path] = where
        if id(node) in self._active:
            self._problem(where, path, "a YAML alias refers to itself")
            return None
        self._count(node, where)
        if not self._standard_tag(node, path, where):
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

    def _count(self, node: yaml.Node, where: str) -> None:
        self._built += 1
        self._seen.add(id(node))
        self._check_expansion(where)

    def _check_expansion(self, where: str) -> None:
        if self._built - len(self._seen) > MAX_EXPANDED:
            raise _LimitExceeded(
                where,
                f"YAML aliases and merge keys expand to more than {MAX_EXPANDED:,} values "
                "(a 'billion laughs' document?); write the values out or use fewer aliases",
            )

    def _standard_tag(self, node: yaml.Node, path: KeyPath, where: str) -> bool:
        if node.tag in _STANDARD_TAGS.get(type(node), ()):
            return True
        self._doc.failed.append(path)
        tag = "!!" + node.tag[len(_YAML_TAG) :] if node.tag.startswith(_YAML_TAG) else node.tag
        where = self._where(node.start_mark.line + 1)
        self._problem(
            where,
            path,
            f"unsupported YAML tag {tag!r}; only plain values, lists and mappings are read (remove the tag)",
        )
        return False

    def _scalar(self, node: yaml.Node, path: KeyPath, where: str) -> Any:
        self._doc.given[path] = where
        try:
            value = self._construct(node)
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            self._doc.failed.append(path)
            self._problem(where, path, _unreadable(node, exc))
            return None
        if self._env is not None and isinstance(value, str) and "${" in value:
            try:
                filled = interpolate(value, self._env)
            except InterpolationError as exc:
                self._doc.failed.append(path)
                self._doc.problems.append(Problem(where, _dotted(path), mask(path, value), str(exc)))
                return None
            if filled != value.replace("$${", "${"):
                self._doc.from_env[path] = value  # never echo what the environment filled in
            return filled
        return value

    def _construct(self, node: yaml.Node) -> Any:
        # one scalar at a time; PyYAML's cache of constructed nodes would keep them all alive
        try:
            return self._loader.construct_object(node, deep=True)
        finally:
            self._loader.constructed_objects.pop(node, None)

    def _sequence(self, node: yaml.SequenceNode, path: KeyPath, where: str) -> list[Any]:
        if not any(isinstance(item, yaml.MappingNode) for item in node.value):
            self._doc.given[path] = where
        return [self.build(item, (*path, i), item.start_mark.line + 1) for i, item in enumerate(node.value)]

    def _mapping(self, node: yaml.MappingNode, path: KeyPath, where: str) -> dict[str, Any]:
        self._check_duplicates(node, path)
        pairs = self._merged(node, path, where, 0)  # `<<: *base` merges; later keys override
        if not pairs:
            self._doc.given[path] = where
        result: dict[str, Any] = {}
        for key_node, value_node in pairs:
            line = key_node.start_mark.line + 1
            key = self._key(key_node, path, line)
            if key is not None:
                if key in result:  # a merged key the mapping sets itself: drop what was merged
                    self._forget((*path, key))
                result[key] = self.build(value_node, (*path, key), line)
        return result

    def _merged(
        self, node: yaml.MappingNode, path: KeyPath, where: str, depth: int
    ) -> list[tuple[yaml.Node, yaml.Node]]:
        """The key/value pairs of ``node`` with its merge keys (``<<``) resolved, without changing it.

        Unlike PyYAML's ``flatten_mapping``, which copies every merged pair into the node
        (nine levels of ``<<: [*a, *a, ...]`` make 9**9 pairs), this counts what it adds.
        """
        if depth > MAX_DEPTH:
            raise _LimitExceeded(where, f"merge keys ('<<') nested deeper than {MAX_DEPTH} levels")
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            if not all(isinstance(s, yaml.MappingNode) for s in sources):
                line = key_node.start_mark.line + 1
                self._problem(
                    self._where(line), path, "'<<' must be followed by a mapping or a list of mappings"
                )
                continue
            for source in reversed(sources):  # the first source listed wins
                if id(source) in self._active:
                    self._problem(where, path, "a YAML alias refers to itself")
                    continue
                self._active.add(id(source))
                try:
                    pairs = self._merged(source, path, where, depth + 1)
                finally:
                    self._active.discard(id(source))
                self._built += len(pairs)
                self._check_expansion(where)
                merged.extend(pairs)
        return merged + own if merged else own

    def _forget(self, path: KeyPath) -> None:
        for table in (self._doc.locations, self._doc.given, self._doc.from_env):
            for key in [k for k in table if k[: len(path)] == path]:
                del table[key]

    def _key(self, key_node: yaml.Node, path: KeyPath, line: int) -> str | None:
        where = self._where(line)
        if not isinstance(key_node, yaml.ScalarNode):
            self._problem(where, path, "keys must be plain names, not lists or mappings")
            return None
        if key_node.tag not in _STANDARD_TAGS[yaml.ScalarNode]:
            self._standard_tag(key_node, path, where)
            return None
        try:
            return str(self._construct(key_node))
        except ValueError as exc:
            self._problem(where, path, "bad key: " + _unreadable(key_node, exc))
            return None

    def _check_duplicates(self, node: yaml.MappingNode, path: KeyPath) -> None:
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self._problem(
                    self._where(line),
                    (*path, key),
                    f"duplicate key (already set on line {first_line[key]}); remove one of them",
                )
            else:
                first_line[key] = line

    def _problem(self, where: str, path: KeyPath, message: str) -> None:
        self._doc.problems.append(Problem(where, _dotted(path), NOT_GIVEN, message))


def _unreadable(node: yaml.Node, exc: ValueError) -> str:
    text = str(node.value)
    if node.tag == _YAML_TAG + "int":
        return f"a whole number of {len(text):,} digits is too long to read"
    return f"cannot be read: {exc}"


def _dotted(path: KeyPath) -> str:
    return ".".join(str(p) for p in path)
