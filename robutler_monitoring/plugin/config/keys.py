"""Which keys the schema has where: walking ``MonitoringConfig`` by dotted path.

The environment scheme, the error translation and ``config show`` all need to know
whether a path names a section (a model), a list, or a plain value.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from .schema import MonitoringConfig

KeyPath = tuple[str | int, ...]

ROOT = "monitoring"


def dotted(path: Sequence[str | int], *, prefix: bool = True) -> str:
    """``("metrics", "endpoint")`` -> ``"monitoring.metrics.endpoint"``."""
    parts = [str(p) for p in path]
    return ".".join([ROOT, *parts] if prefix else parts)


def unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` so the interesting type remains."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def is_model(tp: Any) -> bool:
    """True for a pydantic model class (a section of the config)."""
    tp = unwrap(tp)
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def is_text(tp: Any) -> bool:
    """True when values of this type are plain text (taken verbatim from the environment)."""
    tp = unwrap(tp)
    if tp in (str, SecretStr):
        return True
    if get_origin(tp) is Literal:
        return all(isinstance(a, str) for a in get_args(tp))
    return False


def type_at(path: Sequence[str | int], root: Any = MonitoringConfig) -> Any | None:
    """The annotated type of the value at ``path``, or None when the schema has no such key."""
    tp: Any = root
    for part in path:
        tp = _child(tp, part)
        if tp is None:
            return None
    return tp


def fields_of(tp: Any) -> list[str]:
    """The key names of a section type (empty for anything else)."""
    tp = unwrap(tp)
    return [f.alias or name for name, f in tp.model_fields.items()] if is_model(tp) else []


def clean_loc(loc: Sequence[str | int], root: Any = MonitoringConfig) -> KeyPath:
    """A pydantic error location without its union-branch tags (``function-after[...]``)."""
    out: list[str | int] = []
    tp: Any = root
    for part in loc:
        if tp is None:  # below an unknown key: keep what the user wrote
            out.append(part)
            continue
        child = _child(tp, part)
        if child is None and not is_model(tp) and _container(tp) is None:
            continue  # a tag pydantic adds inside a union or a validator; not a key
        out.append(part)
        tp = child
    return tuple(out)


def _container(tp: Any) -> Any | None:
    tp = unwrap(tp)
    origin = get_origin(tp)
    if origin in (tuple, list, dict):
        return origin
    return None


def _child(tp: Any, part: str | int) -> Any | None:
    tp = unwrap(tp)
    if is_model(tp):
        field = _field(tp, part) if isinstance(part, str) else None
        return None if field is None else field.annotation
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (tuple, list) and isinstance(part, int):
        return args[0] if args else Any
    if origin is dict:
        return args[1] if len(args) == 2 else Any
    return None


def _field(model: Any, key: str) -> Any | None:
    # a key is the field's alias where it has one (`for`, a Python keyword, is field `for_`)
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None
