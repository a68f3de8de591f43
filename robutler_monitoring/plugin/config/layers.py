"""The layers of the configuration merged into one tree, remembering where each part came from.

``locations`` says where every key was written (to point errors at a line);
``given`` holds only the values set as a whole, so that a key left out stays a default.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import NOT_GIVEN, Problem, did_you_mean, expected_one_of
from .keys import ROOT, KeyPath, dotted, is_model, type_at
from .masking import conceal, mask
from .yamlsource import YamlDocument

DEFAULT_SOURCE = "default"


@dataclass
class Layers:
    """The merged data so far, with a location for every key and a source for every given value.

    >>> layers = Layers()
    >>> layers.put(("logging", "level"), "DEBUG", "env ROBUTLER_LOG_LEVEL")
    >>> layers.data, layers.source_of(("logging", "level")), layers.source_of(("enabled",))
    ({'logging': {'level': 'DEBUG'}}, 'env ROBUTLER_LOG_LEVEL', 'default')
    """

    data: dict[str, Any] = field(default_factory=dict)
    locations: dict[KeyPath, str] = field(default_factory=dict)
    given: dict[KeyPath, str] = field(default_factory=dict)
    failed: dict[KeyPath, None] = field(default_factory=dict)
    #: values filled in from ``${VAR}``, with the text as written (errors show that)
    concealed: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def take_file(self, doc: YamlDocument, known: Collection[str]) -> None:
        """Start from the file's ``monitoring:`` section; report sections no plugin owns."""
        top = doc.data
        root_where = doc.locations.get((), "")
        if top is None:
            return
        if not isinstance(top, dict):
            self.problems.append(
                Problem(
                    root_where,
                    "",
                    mask((), top),
                    "expected sections such as 'monitoring:' at the top level",
                )
            )
            return
        for name in top:
            if name not in known:
                hint = did_you_mean(name, sorted(known)) or "; " + expected_one_of(sorted(known))
                self.problems.append(
                    Problem(doc.locations[(name,)], name, NOT_GIVEN, "unknown section" + hint)
                )
        section = top.get(ROOT)
        if section is None:
            return
        if not isinstance(section, dict):
            where = doc.locations[(ROOT,)]
            self.problems.append(
                Problem(where, ROOT, mask((), section), "expected a mapping of keys to values")
            )
            return
        self.data = section
        self.locations = _strip(doc.locations)
        self.locations[()] = doc.locations[(ROOT,)]  # for checks across sections
        self.given = _strip(doc.given)
        self.concealed = _strip(doc.from_env)
        self.failed = {p[1:]: None for p in doc.failed if p[:1] == (ROOT,)}
        self._drop_empty_sections(self.data, ())

    def _drop_empty_sections(self, node: dict[str, Any], path: KeyPath) -> None:
        # `metrics:` with nothing under it means "all defaults", not "metrics is null"
        for key in list(node):
            child, child_path = node[key], (*path, key)
            if child is None and is_model(type_at(child_path)):
                del node[key]
                self.given.pop(child_path, None)
            elif isinstance(child, dict):
                self._drop_empty_sections(child, child_path)

    def move_email(self) -> None:
        """Move ``monitoring.email`` to ``monitoring.alerts.email``, keeping its locations."""
        if "email" not in self.data:
            return
        email = self.data.pop("email")
        alerts = self.data.get("alerts")
        if alerts is None:
            alerts = self.data["alerts"] = {}
        if not isinstance(alerts, dict):
            return  # validation reports `alerts` itself
        target = alerts.get("email")
        if email is None:  # `email:` with nothing under it
            return
        if target is None:
            alerts["email"] = email
            self._relocate(("email",), ("alerts", "email"))
            return
        if not isinstance(email, dict) or not isinstance(target, dict):
            where = self.locations[("email",)]
            message = (
                "expected a mapping of keys to values"
                if not isinstance(email, dict)
                else ("cannot be merged with monitoring.alerts.email, which is not a mapping")
            )
            self.problems.append(Problem(where, "monitoring.email", mask(("email",), email), message))
            return
        for key, value in email.items():
            if key not in target:
                target[key] = value
                self._relocate(("email", key), ("alerts", "email", key))
            elif target[key] != value:
                other = self.locations[("alerts", "email", key)]
                ours, theirs = ("email", key), ("alerts", "email", key)
                self.problems.append(
                    Problem(
                        self.locations[ours],
                        f"monitoring.email.{key}",
                        conceal(ours, value, self.concealed),
                        f"differs from monitoring.alerts.email.{key} ({other}) = "
                        f"{conceal(theirs, target[key], self.concealed)!r}; set it in one place",
                    )
                )

    def put(self, path: KeyPath, value: Any, source: str) -> None:
        """Set the value at ``path`` (replacing all below it), remembering ``source``."""
        node = self.data
        for part in path[:-1]:
            child = node.get(str(part))
            if not isinstance(child, dict):
                child = node[str(part)] = {}
            node = child
        node[str(path[-1])] = value
        for table in (self.locations, self.given, self.failed, self.concealed):
            for key in [k for k in table if k[: len(path)] == path]:
                del table[key]
        self.locations[path] = self.given[path] = source

    def put_flag(self, key: str, value: Any, source: str) -> None:
        """Set a dotted key from a command-line flag."""
        path = tuple(key.split("."))
        if type_at(path) is None:
            self.problems.append(Problem(source, dotted(path), mask(path, value), "unknown key"))
        else:
            self.put(path, value, source)

    def locate(self, path: KeyPath) -> str:
        """Where the value at ``path`` (or its nearest written parent) came from."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.locations:
                return self.locations[path[:n]]
        return DEFAULT_SOURCE

    def source_of(self, path: KeyPath) -> str:
        """The source label of a leaf: the nearest given value at or above it, else ``default``."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.given:
                return self.given[path[:n]]
        return DEFAULT_SOURCE

    def _relocate(self, old: KeyPath, new: KeyPath) -> None:
        for table in (self.locations, self.given, self.concealed):
            for key in [k for k in table if k[: len(old)] == old]:
                table[new + key[len(old) :]] = table.pop(key)


def _strip(table: Mapping[KeyPath, str]) -> dict[KeyPath, str]:
    return {p[1:]: where for p, where in table.items() if p[:1] == (ROOT,) and len(p) > 1}
