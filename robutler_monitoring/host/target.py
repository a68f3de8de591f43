"""Turning ``robutler serve``'s TARGET into an ASGI app, with one clear line for each mistake.

TARGET forms: omitted (the embedded demo), ``module:attribute`` or
``path/to/file.py:attribute``; ``--factory`` calls the attribute first. The
attribute may be an ASGI app, a Robutler ``BaseAgent`` (or an instance of any subclass),
a list of agents, or a ``RobutlerServer``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from ..integrations.robutler_sdk import serving as sdk
from .errors import HostError
from .plugins import describe_exception
from .types import ASGIApp


class TargetError(HostError):
    """TARGET cannot be served: bad input (exit 2) unless its own code failed (exit 1)."""

    exit_code = 2


def load_target(target: str | None, *, factory: bool = False, app_dir: str = ".") -> ASGIApp:
    """Import and check TARGET; the demo agent server when it is None."""
    if target is None:
        from ..demo import create_demo_app

        return create_demo_app()
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise TargetError(
            f"TARGET {target!r} is not of the form 'module:attribute' or 'path/to/file.py:attribute'"
        )
    sdk.prepare_environment()
    module = _import(module_part, target, app_dir)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(
                f"TARGET {target!r}: module {module_part!r} has no attribute {attr!r}"
            ) from None
    if factory:
        if not callable(obj):
            raise TargetError(f"TARGET {target!r} is not callable, so it cannot be a --factory")
        try:
            obj = obj()
        except Exception as exc:
            message = f"TARGET {target!r}: the factory raised {describe_exception(exc)}"
            raise TargetError(message, exit_code=1) from exc
    return _as_asgi(obj, target, factory)


def _import(module_part: str, target: str, app_dir: str) -> Any:
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        return _import_file(Path(module_part), target)
    directory = str(Path(app_dir).resolve())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        if exc.name and (module_part == exc.name or module_part.startswith(exc.name + ".")):
            raise TargetError(f"TARGET {target!r}: no module named {module_part!r}") from None
        raise _import_failed(target, module_part, exc) from exc
    except Exception as exc:
        raise _import_failed(target, module_part, exc) from exc


def _import_file(path: Path, target: str) -> Any:
    if not path.is_file():
        raise TargetError(f"TARGET {target!r}: file {str(path)!r} does not exist")
    name = f"_robutler_target_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path.resolve())
    if spec is None or spec.loader is None:
        raise TargetError(f"TARGET {target!r}: {str(path)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    parent = str(path.resolve().parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)  # so the file can import its neighbours
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise _import_failed(target, str(path), exc, verb="running") from exc
    return module


def _as_asgi(obj: Any, target: str, factory: bool) -> ASGIApp:
    if sdk.is_sdk_object(obj):
        app = sdk.sdk_app(obj)
        if app is not None:
            return app
    if _is_asgi(obj):
        asgi: ASGIApp = obj
        return asgi
    hint = ""
    if not factory and callable(obj) and not inspect.isclass(obj):
        hint = " (if it is a function that returns the app, add --factory)"
    raise TargetError(
        f"TARGET {target!r} is {_article(type(obj).__name__)} {type(obj).__name__}, not an ASGI app, "
        f"a Robutler agent "
        f"or a list of agents{hint}"
    )


def _is_asgi(obj: Any) -> bool:
    if inspect.isclass(obj):
        return False
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)  # noqa: B004 - instances with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _import_failed(target: str, what: str, exc: BaseException, verb: str = "importing") -> TargetError:
    message = f"TARGET {target!r}: {verb} {what!r} failed: {describe_exception(exc)}"
    return TargetError(message, exit_code=1)  # the target's own code failed
