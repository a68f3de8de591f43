"""The one place configuration is read: defaults < YAML file < environment < flags.

Every leaf value keeps its source (``default``, ``robutler.yaml:12``,
``env ROBUTLER_LOG_LEVEL``, ``flag --log-level``), and every problem in the file and
the environment is collected and raised together as one :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from .env import read_env
from .errors import NOT_GIVEN, ConfigError, Problem
from .keys import ROOT, KeyPath, dotted
from .layers import Layers
from .schema import MonitoringConfig
from .validation import problems_from
from .yamlsource import load_yaml

CONFIG_ENV = "ROBUTLER_CONFIG"
DEFAULT_FILE = "robutler.yaml"

_NO_OVERRIDES: Mapping[str, tuple[Any, str]] = MappingProxyType({})
_NO_REFERENCES: Mapping[KeyPath, str] = MappingProxyType({})


@dataclass(frozen=True)
class ResolvedConfig:
    """The monitoring configuration, where each value came from, and the file used.

    >>> resolved = load_config(None, env={"ROBUTLER_LOG_LEVEL": "debug"})
    >>> resolved.config.logging.level, resolved.sources["logging.level"]
    ('DEBUG', 'env ROBUTLER_LOG_LEVEL')
    >>> resolved.sources["metrics.endpoint"]
    'default'
    """

    config: MonitoringConfig
    sources: Mapping[str, str]
    path: Path | None
    #: values filled in from ``${VAR}`` in the file: key path -> the text as written
    from_env: Mapping[KeyPath, str] = field(default_factory=lambda: _NO_REFERENCES)


def resolve_config_path(
    explicit: str | None,
    env: Mapping[str, str],
    cwd: Path,
    *,
    explicit_origin: str = "flag --config",
) -> Path | None:
    """The config file: ``--config``, else ``$ROBUTLER_CONFIG``, else ``./robutler.yaml``."""
    if explicit:
        given, origin = explicit, explicit_origin
    elif env.get(CONFIG_ENV):
        given, origin = env[CONFIG_ENV], f"env {CONFIG_ENV}"
    else:
        candidate = _under_cwd(Path(DEFAULT_FILE), cwd)
        return candidate if candidate.is_file() else None
    path = _under_cwd(Path(given).expanduser(), cwd)
    if not path.exists():
        raise ConfigError([Problem(origin, "", NOT_GIVEN, f"config file {given!r} does not exist")])
    if path.is_dir():
        raise ConfigError([Problem(origin, "", NOT_GIVEN, f"{given!r} is a directory, not a file")])
    return path


def _under_cwd(path: Path, cwd: Path) -> Path:
    # keep a relative path as the user wrote it (errors then say `robutler.yaml:7`)
    # unless it must be read from another directory than this process's own
    if path.is_absolute() or cwd.resolve() == Path.cwd().resolve():
        return path
    return cwd / path


def load_config(
    path: Path | None,
    *,
    env: Mapping[str, str],
    overrides: Mapping[str, tuple[Any, str]] = _NO_OVERRIDES,
    known_sections: Collection[str] = (ROOT,),
) -> ResolvedConfig:
    """Resolve the monitoring configuration; raise :class:`ConfigError` listing every problem."""
    layers = Layers()
    if path is not None:
        doc = load_yaml(path, file_label(path), env)
        layers.problems.extend(doc.problems)
        layers.take_file(doc, {ROOT, *known_sections})
        layers.move_email()
    env_values, env_problems = read_env(env)
    layers.problems.extend(env_problems)
    for item in env_values:
        layers.put(item.path, item.value, item.source)
    for key, (value, source) in overrides.items():
        if value is not None:
            layers.put_flag(key, value, source)
    try:
        config = MonitoringConfig.model_validate(layers.data)
    except ValidationError as exc:
        layers.problems.extend(problems_from(exc, layers.locate, layers.failed, layers.concealed))
        config = None
    if layers.problems or config is None:
        raise ConfigError(sorted(layers.problems, key=_order))
    sources = {dotted(p, prefix=False): layers.source_of(p) for p in _leaves(config.model_dump(), ())}
    from_env = MappingProxyType(dict(layers.concealed))
    return ResolvedConfig(config, MappingProxyType(sources), path, from_env)


def file_label(path: Path) -> str:
    """How a config file is named in sources and errors: as the user gave it."""
    return str(path)


def _leaves(value: Any, path: KeyPath) -> Iterator[KeyPath]:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list | tuple) and any(isinstance(v, dict) for v in value):
        for i, child in enumerate(value):
            yield from _leaves(child, (*path, i))
    else:
        yield path


def _order(problem: Problem) -> tuple[int, int]:
    """File problems by line, then environment, then flags."""
    source = problem.source
    if source.startswith("env "):
        return (2, 0)
    if source.startswith("flag "):
        return (3, 0)
    parts = source.rsplit(":", 2)
    for part in parts[1:]:
        if part.isdigit():
            return (1, int(part))
    return (0, 0)
