"""Finding plugins: the ``robutler.plugins`` entry-point group, and switching them off.

A plugin that fails to load costs one warning line naming it; the command keeps
working without it. Plugins are disabled by name with ``ROBUTLER_DISABLE_PLUGINS``
(comma-separated; ``all`` disables every plugin) or ``robutler --disable-plugin NAME``.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.metadata
import inspect
import os
import traceback
from collections.abc import Awaitable, Callable, Collection, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pluggy import HookImpl

from . import hookspecs
from .errors import HostError

DISABLE_ENV = "ROBUTLER_DISABLE_PLUGINS"
#: Set to show the traceback of a failing plugin hook (and of internal errors).
TRACEBACK_ENV = "ROBUTLER_TRACEBACK"
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
) -> HostPluginManager:
    """A fresh plugin manager with every enabled plugin of the entry-point group registered."""
    pm = HostPluginManager(hookspecs.PROJECT)
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


class HostPluginManager(pluggy.PluginManager):
    """pluggy's manager, with each plugin's implementations isolated from the others'.

    Hooks are called through pluggy, so its order, ``tryfirst``/``trylast`` and hook
    wrappers (``wrapper=True``, ``hookwrapper=True``) apply. pluggy stops at the
    first exception; inside :func:`call_each` an implementation that raises is
    recorded instead, and the others still run.
    """

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` and guard each of its (non-wrapper) implementations."""
        registered = super().register(plugin, name)
        for caller in self.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                    impl.function = _guard(impl)  # type: ignore[misc]  # Final only in the stubs
        return registered


@dataclass
class _Call:
    """What one :func:`call_each` collects while pluggy runs the implementations."""

    failures: list[tuple[str, Exception]] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # id(result) -> plugin name
    chain: str | None = None  # for wrap_each: the argument each one gets from the previous
    value: Any = None


_current: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("robutler_hook_call", default=None)


def _guard(impl: HookImpl) -> Callable[..., Any]:
    function = impl.function
    name = impl.plugin_name
    chained = {argname: i for i, argname in enumerate(impl.argnames)}

    @functools.wraps(function)
    def guarded(*args: Any) -> Any:
        call = _current.get()
        if call is None:  # called through pm.hook directly: plain pluggy behaviour
            return function(*args)
        if call.chain is not None and call.chain in chained:
            args = (*args[: chained[call.chain]], call.value, *args[chained[call.chain] + 1 :])
        try:
            result = function(*args)
        except Exception as exc:
            call.failures.append((name, exc))
            return None
        if inspect.isawaitable(result):
            result = Guarded(result, name, call.failures)
        if result is not None:
            call.names[id(result)] = name
            if call.chain is not None:
                call.value = result
        return result

    return guarded


class Guarded:
    """An implementation's awaitable result: awaiting it records a failure instead of raising."""

    def __init__(self, awaitable: Awaitable[Any], plugin: str, failures: list[tuple[str, Exception]]) -> None:
        self.awaitable = awaitable
        self.plugin = plugin
        self._failures = failures

    def __await__(self) -> Generator[Any, None, Any]:
        return self._run().__await__()

    async def _run(self) -> Any:
        try:
            return await self.awaitable
        except Exception as exc:
            self._failures.append((self.plugin, exc))
            return None

    def close(self) -> None:
        """Never to be awaited: close the coroutine (no "never awaited" warning)."""
        close = getattr(self.awaitable, "close", None)
        if close is not None:
            close()


def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the registered plugins, in registration order."""
    return [name for name, _ in pm.list_name_plugin()]


def call_each(
    pm: pluggy.PluginManager, hook: str, *, warn: Warn | None = None, **kwargs: Any
) -> list[tuple[str, Any]]:
    """Call one hook through pluggy, returning ``(plugin, result)`` pairs in pluggy's order.

    Each implementation runs even when another raises. With ``warn``, a plugin whose
    hook raised is reported and skipped (for hooks that build the CLI). Without it,
    the first failure becomes a :class:`HostError` naming the plugin and hook, so
    ``robutler serve`` stops with one clean line (a plugin's own ``HostError`` is
    raised as it is). With ``ROBUTLER_TRACEBACK=1`` the failure's traceback is shown.
    """
    call = _Call()
    results = _run(pm, hook, call, kwargs)
    _report(call, hook, warn)
    return [(call.names.get(id(result), "?"), result) for result in results]


def wrap_each(pm: pluggy.PluginManager, hook: str, app: Any, **kwargs: Any) -> Any:
    """Call a wrapping hook, each implementation given what the previous one returned."""
    call = _Call(chain="app", value=app)
    _run(pm, hook, call, {**kwargs, "app": app})
    _report(call, hook, None)
    return call.value


def failures_of(
    pm: pluggy.PluginManager, hook: str, **kwargs: Any
) -> tuple[list[tuple[str, Any]], list[tuple[str, Exception]]]:
    """Call a hook like :func:`call_each`; return ``(results, failures)`` for the caller to handle.

    Awaitable results are guarded: a failure while awaiting one is appended to the
    same failures list, so the caller checks it after each ``await``.
    """
    call = _Call()
    results = _run(pm, hook, call, kwargs)
    return [(call.names.get(id(result), "?"), result) for result in results], call.failures


def _run(pm: pluggy.PluginManager, hook: str, call: _Call, kwargs: dict[str, Any]) -> list[Any]:
    token = _current.set(call)
    try:
        results = getattr(pm.hook, hook)(**kwargs)
    finally:
        _current.reset(token)
    return list(results or [])


def _report(call: _Call, hook: str, warn: Warn | None) -> None:
    for plugin, exc in call.failures:
        if warn is None:
            if isinstance(exc, HostError):
                raise exc
            raise HostError(failure_message(plugin, hook, exc)) from exc
        _warn(warn, failure_message(plugin, hook, exc) + traceback_text(exc))


def failure_message(plugin: str, hook: str, exc: BaseException) -> str:
    """One line naming the plugin, the hook and the error."""
    return f"plugin {plugin!r} failed in {hook}: {describe_exception(exc)}"


def traceback_text(exc: BaseException) -> str:
    """The traceback of ``exc`` (after a newline) when ``ROBUTLER_TRACEBACK`` is set, else ``""``."""
    if not os.environ.get(TRACEBACK_ENV):
        return ""
    return "\n" + "".join(traceback.format_exception(exc)).rstrip()


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


@dataclass(frozen=True)
class HostInfo:
    """What the host worked out about its plugins, once per command, for every plugin to read.

    ``disabled_plugins``: the names switched off. ``config_sections``: every top-level
    section of the config file that belongs to some plugin; enabled plugins name theirs
    with ``robutler_config_sections``, and a disabled plugin (never imported, so it
    cannot be asked) is taken to own the section named like it, since its settings
    are not a typo.
    """

    disabled_plugins: tuple[str, ...] = ()
    config_sections: tuple[str, ...] = ()


def host_info(
    pm: pluggy.PluginManager, disabled: Collection[str] = (), *, warn: Warn | None = None
) -> HostInfo:
    """Ask the enabled plugins for their config sections (``robutler_config_sections``)."""
    sections: set[str] = set()
    for plugin, names in call_each(pm, "robutler_config_sections", warn=warn):
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            _warn(warn, f"plugin {plugin!r}: robutler_config_sections must return a list of names; ignored")
            continue
        sections.update(names)
    sections.update(name for name in entry_point_names() if name in disabled or ALL in disabled)
    return HostInfo(disabled_plugins=tuple(sorted(disabled)), config_sections=tuple(sorted(sections)))


_current_info: contextvars.ContextVar[HostInfo | None] = contextvars.ContextVar(
    "robutler_host_info", default=None
)


def current_host_info() -> HostInfo:
    """The :class:`HostInfo` of the running ``robutler`` command (for a plugin's commands).

    Outside one (a plugin's Typer app invoked on its own, as in its tests) nothing is
    known: no plugin is disabled and no other plugin's section is known.
    """
    return _current_info.get() or HostInfo()


def enter_host_info(info: HostInfo) -> Callable[[], None]:
    """Make ``info`` what :func:`current_host_info` returns; call the result to undo."""
    token = _current_info.set(info)
    return lambda: _current_info.reset(token)
