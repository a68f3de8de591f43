"""Finding plugins: the ``robutler.plugins`` entry-point group, and switching them off.

A plugin that fails to load costs one warning line naming it; the command keeps
working without it. Plugins are disabled by name with ``ROBUTLER_DISABLE_PLUGINS``
(comma-separated; ``all`` disables every plugin) or ``robutler --disable-plugin NAME``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import pluggy

from . import hookspecs
from .errors import HostError

DISABLE_ENV = "ROBUTLER_DISABLE_PLUGINS"
ALL = "all"

Warn = Callable[[str], None]


def disabled_from_env(env: Mapping[str, str]) -> set[str]:
    """Plugin names listed in ``ROBUTLER_DISABLE_PLUGINS``."""
    raw = env.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.replace(" ", ",").split(",") if name.strip()}


def disabled_plugins(argv: Sequence[str], env: Mapping[str, str]) -> set[str]:
    """Plugins disabled by ``ROBUTLER_DISABLE_PLUGINS`` or by ``--disable-plugin`` before the sub-command."""
    disabled = disabled_from_env(env)
    args = list(argv)
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] == "--disable-plugin" and i + 1 < len(args):
            disabled.add(args[i + 1])
            i += 1
        elif args[i].startswith("--disable-plugin="):
            disabled.add(args[i].split("=", 1)[1])
        i += 1
    return disabled


def entry_point_names() -> list[str]:
    """Names of every installed plugin, enabled or not, without importing any of them."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)})


def get_plugin_manager(
    disabled: Collection[str] = (),
    *,
    load_entry_points: bool = True,
    warn: Warn | None = None,
) -> pluggy.PluginManager:
    """A fresh plugin manager with every enabled plugin of the entry-point group registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if load_entry_points and ALL not in disabled:
        for ep in importlib.metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if ep.name in disabled or pm.has_plugin(ep.name):
                continue
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as exc:  # a broken plugin must not break the command
                _warn(warn, f"plugin {ep.name!r} ({ep.value}) failed to load: {describe_exception(exc)}")
    return pm


def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the registered plugins, in registration order."""
    return [name for name, _ in pm.list_name_plugin()]


def call_each(
    pm: pluggy.PluginManager, hook: str, *, warn: Warn | None = None, **kwargs: Any
) -> list[tuple[str, Any]]:
    """Call one hook plugin by plugin, in pluggy's order, returning ``(plugin, result)`` pairs.

    With ``warn``, a plugin whose hook raises is reported and skipped (for hooks
    that build the CLI). Without it, the failure becomes a :class:`HostError`
    naming the plugin and hook, so ``robutler serve`` stops with one clean line.
    """
    results: list[tuple[str, Any]] = []
    for impl in _impls(pm, hook):
        ok, result = _call(impl, hook, kwargs, warn)
        if ok:
            results.append((impl.plugin_name, result))
    return results


def wrap_each(pm: pluggy.PluginManager, hook: str, app: Any, **kwargs: Any) -> Any:
    """Call a wrapping hook plugin by plugin, each given what the previous one returned."""
    for impl in _impls(pm, hook):
        _, wrapped = _call(impl, hook, {**kwargs, "app": app}, None)
        if wrapped is not None:
            app = wrapped
    return app


def _impls(pm: pluggy.PluginManager, hook: str) -> list[Any]:
    # pluggy calls the last registered first, tryfirst before and trylast after the rest.
    return list(reversed(getattr(pm.hook, hook).get_hookimpls()))


def _call(impl: Any, hook: str, kwargs: dict[str, Any], warn: Warn | None) -> tuple[bool, Any]:
    args = {name: kwargs[name] for name in impl.argnames}
    try:
        return True, impl.function(**args)
    except HostError:
        raise
    except Exception as exc:
        message = f"plugin {impl.plugin_name!r} failed in {hook}: {describe_exception(exc)}"
        if warn is None:
            raise HostError(message) from exc
        _warn(warn, message)
        return False, None


def describe_exception(exc: BaseException) -> str:
    """``Type: first line of the message``, for one-line errors."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _warn(warn: Warn | None, message: str) -> None:
    if warn is not None:
        warn(message)
    else:  # pragma: no cover - only when a caller passes no warn function
        import sys

        print(f"Warning: {message}", file=sys.stderr)
