"""Rendering a resolved configuration for ``robutler monitor config show``; secrets masked.

A value the file fills in from ``${VAR}`` is shown as the reference (``"${SMTP_HOST}"``),
never as what the environment holds: a secret put under a key that is not secret by
name stays hidden, and the YAML output stays a config file that reads the same variables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from .keys import KeyPath, dotted
from .layers import DEFAULT_SOURCE
from .loader import ResolvedConfig, file_label
from .masking import mask


def masked_data(resolved: ResolvedConfig) -> dict[str, Any]:
    """The ``monitoring:`` section as plain data, secrets replaced by ``***``, ``${VAR}`` kept."""
    data = _plain(resolved.config.model_dump())
    for path, written in resolved.from_env.items():
        _replace(data, path, written)
    return mask((), data)  # type: ignore[no-any-return]


def _replace(node: Any, path: KeyPath, value: str) -> None:
    *parents, last = path
    for part in parents:
        if not _has(node, part):
            return  # not in the resolved config (a value the schema dropped)
        node = node[part]
    if _has(node, last):
        node[last] = value


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def rows(resolved: ResolvedConfig) -> list[tuple[str, str, str]]:
    """``(key, value, source)`` for every leaf, in schema order."""
    out: list[tuple[str, str, str]] = []
    for path, value in _leaves(masked_data(resolved), ()):
        key = dotted(path, prefix=False)
        out.append((key, _text(value), resolved.sources.get(key, DEFAULT_SOURCE)))
    return out


def render_table(resolved: ResolvedConfig) -> Table:
    """A Rich table: key, value, source."""
    table = Table(title=f"monitoring configuration ({_origin(resolved)})", title_justify="left")
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold")
    for key, value, source in rows(resolved):
        # Text(), not str: a value like "[red]" must not be read as Rich markup
        style = "dim" if source == DEFAULT_SOURCE else "cyan"
        table.add_row(Text(key), Text(value), Text(source, style=style))
    return table


def render_json(resolved: ResolvedConfig) -> str:
    """JSON: the file used, the masked values, and the source of every leaf."""
    document = {
        "file": file_label(resolved.path) if resolved.path else None,
        "monitoring": masked_data(resolved),
        "sources": dict(resolved.sources),
    }
    return json.dumps(document, indent=2, default=str)


def render_yaml(resolved: ResolvedConfig) -> str:
    """A valid config file of the resolved values, each leaf commented with its source."""
    lines = [f"# resolved from {_origin(resolved)}; secrets are masked", "monitoring:"]
    _emit(masked_data(resolved), (), 1, lines, resolved.sources)
    return "\n".join(lines) + "\n"


def _origin(resolved: ResolvedConfig) -> str:
    if resolved.path is None:
        return "defaults and environment; no config file"
    return file_label(resolved.path)


def _emit(
    node: dict[str, Any], path: KeyPath, depth: int, lines: list[str], sources: Mapping[str, str]
) -> None:
    pad = "  " * depth
    for key, value in node.items():
        child = (*path, key)
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:")
            _emit(value, child, depth + 1, lines, sources)
        elif _is_list_of_mappings(value):
            lines.append(f"{pad}{key}:")
            for i, item in enumerate(value):
                block: list[str] = []
                _emit(item, (*child, i), depth + 2, block, sources)
                item_pad = "  " * (depth + 2)
                block[0] = "  " * (depth + 1) + "- " + block[0][len(item_pad) :]
                lines.extend(block)
        else:
            source = sources.get(dotted(child, prefix=False), DEFAULT_SOURCE)
            # JSON scalars and flow lists are valid YAML and quote what needs quoting
            lines.append(f"{pad}{key}: {json.dumps(value, default=str)}  # {source}")


def _leaves(value: Any, path: KeyPath) -> list[tuple[KeyPath, Any]]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if _is_list_of_mappings(value):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    return [(path, value)]


def _is_list_of_mappings(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(v, dict) for v in value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)
