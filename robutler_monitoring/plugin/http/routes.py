"""Route templates for metric labels: ``/{agent}/chat/completions``, never the raw path.

The app's own router is the truth: Starlette (and FastAPI) put the matched route in
``scope["route"]``, which the wrapper reads after the app ran. Before the app runs the
wrapper needs a label for the in-progress gauge, so the routes are compiled once into
one regular expression per HTTP method that mirrors the router's first-match order.
Nested routers are flattened: Starlette ``Mount`` (of a ``Router`` or a whole app) and
FastAPI ``include_router`` (FastAPI 0.13x and later keep the included router as one
``_IncludedRouter`` entry, whose ``effective_candidates()`` carry the prefixed paths, and
match its low-priority routes after every other route). Routes added to an included
router later (the SDK's dynamic agents) change its version: a path not in the cache, or
one that matched nothing, recompiles. Apps without a Starlette router put every path
under ``UNMATCHED``.
"""

from __future__ import annotations

import re
from typing import Any

from ...host.types import Scope

#: The one label value for every path that matches no route.
UNMATCHED = "<unmatched>"
#: Methods kept as labels; anything else becomes ``OTHER``.
KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"))
OTHER_METHOD = "OTHER"

_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")
_MOUNT_TAIL = "/(?P<path>.*)$"
_MAX_UNWRAP = 16
_CACHE_SIZE = 4096


def route_path(scope: Scope) -> str:
    """The path the app's router sees (``root_path`` removed, as Starlette does)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        if path == root:
            return ""
        if path[len(root)] == "/":
            return path[len(root) :]
    return path


def find_routes(app: Any) -> list[Any] | None:
    """The route list of the Starlette/FastAPI router inside ``app`` (through wrappers), or None."""
    obj = app
    for _ in range(_MAX_UNWRAP):
        routes = getattr(obj, "routes", None)
        if isinstance(routes, list):
            return routes
        nxt = getattr(obj, "router", None) or getattr(obj, "app", None)
        if nxt is None or nxt is obj:
            return None
        obj = nxt
    return None


class _Walk:
    """What flattening finds besides the entries: low-priority routes, routers that change."""

    def __init__(self) -> None:
        self.late: list[_Entry] = []  # FastAPI's low-priority routes: tried after every other one
        self.routers: list[Any] = []  # included FastAPI routers, each with a routes version


_Entry = tuple[str, str, frozenset[str] | None]


def _flatten(routes: list[Any], regex_prefix: str, format_prefix: str, walk: _Walk) -> list[_Entry]:
    """(regex body, template, methods) for each HTTP route, nested routers expanded in order."""
    out: list[_Entry] = []
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):  # FastAPI's included router: its routes carry the prefix
            walk.routers.append(getattr(route, "original_router", None))
            inner = [getattr(c, "starlette_route", None) or c for c in candidates()]
            out.extend(_flatten(inner, regex_prefix, format_prefix, walk))
            late = getattr(route, "effective_low_priority_routes", None)
            if callable(late):
                low = [getattr(c, "starlette_route", None) or c for c in late()]
                walk.late.extend(_flatten(low, regex_prefix, format_prefix, _Walk()))
            continue
        regex = getattr(route, "path_regex", None)
        fmt = getattr(route, "path_format", None)
        if regex is None or not isinstance(fmt, str) or type(route).__name__ == "WebSocketRoute":
            continue
        body = _NAMED_GROUP.sub("(?:", regex.pattern.removeprefix("^").removesuffix("$"))
        if regex.pattern.endswith(_MOUNT_TAIL) and fmt.endswith("/{path}"):
            mount_re = _NAMED_GROUP.sub("(?:", regex.pattern[1 : -len(_MOUNT_TAIL)])
            mount_fmt = fmt[: -len("/{path}")]
            inner_routes = _mounted_routes(route)
            if inner_routes:
                out.extend(_flatten(inner_routes, regex_prefix + mount_re, format_prefix + mount_fmt, walk))
            out.append((regex_prefix + body, format_prefix + fmt, None))
            continue
        methods = getattr(route, "methods", None)
        out.append((regex_prefix + body, format_prefix + fmt, frozenset(methods) if methods else None))
    return out


def flatten_routes(routes: list[Any]) -> list[_Entry]:
    """(regex body, template, methods) for every HTTP route of ``routes``, in the router's match order."""
    walk = _Walk()
    return _flatten(list(routes), "", "", walk) + walk.late


def _mounted_routes(mount: Any) -> list[Any]:
    """The routes of a mounted router or app (``Mount.routes``, else found through its wrappers)."""
    try:
        inner = getattr(mount, "routes", None)
    except Exception:  # a mounted app whose ``routes`` fails: the mount itself is the route
        inner = None
    if not inner:
        inner = find_routes(getattr(mount, "app", None))
    return list(inner or [])


class _Compiled:
    """One compiled alternation per method over a snapshot of the routes."""

    def __init__(self, routes: list[Any]) -> None:
        self.key = (id(routes), len(routes))
        walk = _Walk()
        self.entries = _flatten(list(routes), "", "", walk) + walk.late
        self.routers = [r for r in walk.routers if callable(getattr(r, "_get_routes_version", None))]
        self.versions = self.router_versions()
        self.templates = [fmt for _, fmt, _ in self.entries]
        self.any = self._compile(range(len(self.entries)))
        self.by_method: dict[str, re.Pattern[str] | None] = {}

    def router_versions(self) -> tuple[int, ...]:
        """The routes version of each included router (FastAPI counts every route added)."""
        return tuple(router._get_routes_version() for router in self.routers)

    def stale(self) -> bool:
        """True when an included router got routes since this snapshot."""
        return bool(self.routers) and self.router_versions() != self.versions

    def _compile(self, indexes: Any) -> re.Pattern[str] | None:
        parts = [f"(?P<r{i}>{self.entries[i][0]})" for i in indexes]
        return re.compile("^(?:" + "|".join(parts) + ")$") if parts else None

    def match(self, method: str, path: str) -> str:
        if method in self.by_method:
            pattern = self.by_method[method]
        else:
            pattern = self.by_method[method] = self._compile(
                i for i, (_, _, m) in enumerate(self.entries) if m is None or method in m
            )
        found = pattern.match(path) if pattern is not None else None
        if found is None and self.any is not None:  # Starlette answers 405 on a partial match
            found = self.any.match(path)
        if found is None:
            return UNMATCHED
        return self.templates[int(found.lastgroup[1:])]  # type: ignore[index]


class RouteResolver:
    """Maps a request to a bounded route label.

    >>> from starlette.applications import Starlette
    >>> from starlette.routing import Route
    >>> app = Starlette(routes=[Route("/{agent}", lambda r: None)])
    >>> RouteResolver(app).prematch({"path": "/alice", "method": "GET"}, "GET")
    '/{agent}'
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._compiled: _Compiled | None = None
        self._routes: list[Any] | None = None
        self._no_router = False
        self._cache: dict[tuple[str, str], str] = {}  # hot paths repeat: skip the regex

    def prematch(self, scope: Scope, method: str) -> str:
        """The template the router will most likely pick, before the app runs."""
        if self._no_router:
            return UNMATCHED
        routes = find_routes(self._app) if self._compiled is None else self._routes
        if routes is None:
            self._no_router = True
            return UNMATCHED
        compiled = self._compiled
        if compiled is None or compiled.key != (id(routes), len(routes)):
            # Routes added at runtime (FastAPI include_router, SDK dynamic agents) recompile.
            compiled = self._compile(routes)
        key = (method, route_path(scope) if scope.get("root_path") else scope["path"])
        found = self._cache.get(key)
        if (found is None or found == UNMATCHED) and compiled.stale():
            # a route added to an included router later: only a miss pays for the check
            compiled = self._compile(routes)
            found = None
        if found is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # bounded memory under a scan of random paths
            found = self._cache[key] = compiled.match(method, key[1])
        return found

    def _compile(self, routes: list[Any]) -> _Compiled:
        compiled = self._compiled = _Compiled(routes)
        self._routes = routes
        self._cache.clear()
        return compiled
