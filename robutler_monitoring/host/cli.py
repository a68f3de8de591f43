"""The ``robutler`` command: ``serve``, ``plugins``, and whatever plugins add.

Built by :func:`build_cli` from a plugin manager, so tests can build their own.
"""

from __future__ import annotations

import enum
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import pluggy
import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from .errors import HostError
from .headers import DEFAULT_MAX_HEADER_BYTES
from .plugins import (
    DISABLE_ENV,
    TRACEBACK_ENV,
    HostInfo,
    call_each,
    disabled_plugins,
    enter_host_info,
    get_plugin_manager,
    host_info,
    plugin_names,
    traceback_text,
)
from .settings import ServeSettings


class LogLevel(enum.StrEnum):
    """Log levels accepted by ``--log-level``."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


class HttpImplementation(enum.StrEnum):
    """HTTP implementations accepted by ``--http``."""

    auto = "auto"
    httptools = "httptools"
    h11 = "h11"


PLUGIN_OPTIONS_KEY = "robutler.plugin_options"

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def _warn(message: str) -> None:
    _err.print(f"[yellow]Warning:[/yellow] {escape(message)}", markup=True)


def build_cli(pm: pluggy.PluginManager, info: HostInfo | None = None) -> Any:
    """The click command of ``robutler``, with every plugin's commands and serve options.

    ``info`` (the disabled plugins and the known config sections, worked out once by
    :func:`main`) reaches every command as the root context's ``obj``.
    """
    if info is None:
        info = host_info(pm, warn=_warn)
    app = typer.Typer(
        name="robutler",
        help="Serve Robutler agents and ASGI apps, with the plugins installed here.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    app.command("serve")(_serve_with_plugin_options(pm, info))
    app.command("plugins")(_plugins_command_for(pm))
    call_each(pm, "robutler_add_commands", warn=_warn, cli=app)
    app.info.context_settings = {**(app.info.context_settings or {}), "obj": info}
    return typer.main.get_command(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"robutler (robutler-monitoring) {__version__}")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
    disable_plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--disable-plugin",
            metavar="NAME",
            help=f"Do not load plugin NAME ('all' for every plugin); also {DISABLE_ENV}=a,b.",
        ),
    ] = None,
) -> None:
    """Serve Robutler agents and ASGI apps, with the plugins installed here."""
    if isinstance(ctx.obj, HostInfo):  # for plugins' commands: current_host_info()
        ctx.call_on_close(enter_host_info(ctx.obj))


def _serve_command(
    ctx: typer.Context,
    pm: pluggy.PluginManager,
    info: HostInfo,
    target: Annotated[
        str | None,
        typer.Argument(
            help="What to serve: 'module:attribute' or 'path/to/file.py:attribute' naming an ASGI "
            "app, a Robutler agent or a list of agents. Omit it for the embedded demo agent server.",
            show_default=False,
        ),
    ] = None,
    factory: Annotated[
        bool, typer.Option("--factory", help="TARGET is a function that returns the app.")
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=512, help="Worker processes; metrics are summed over all.")
    ] = 1,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            exists=True,
            dir_okay=False,
            readable=True,
            help="YAML config file (default: $ROBUTLER_CONFIG, else ./robutler.yaml if present).",
        ),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            case_sensitive=False,
            help="Log level (default: $ROBUTLER_LOG_LEVEL, else the config file, else info).",
            show_default=False,
        ),
    ] = None,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when Python files under --app-dir change.")
    ] = False,
    app_dir: Annotated[str, typer.Option(help="Directory added to the import path for TARGET.")] = ".",
    root_path: Annotated[
        str, typer.Option(help="ASGI root_path when served behind a proxy under a sub-path.")
    ] = "",
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-For/Proto from --forwarded-allow-ips.")
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Comma-separated proxy IPs to trust ('*' for all).", show_default=False),
    ] = None,
    timeout_keep_alive: Annotated[
        int, typer.Option(min=1, help="Seconds to keep idle connections open.")
    ] = 5,
    timeout_graceful_shutdown: Annotated[
        int | None,
        typer.Option(min=0, help="Seconds to wait for requests to finish at shutdown.", show_default=False),
    ] = None,
    limit_concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Answer 503 beyond this many concurrent connections.", show_default=False),
    ] = None,
    max_header_bytes: Annotated[
        int | None,
        typer.Option(
            min=1024,
            metavar="BYTES",
            help="Largest request head (request line and headers) accepted; larger gets 431. "
            f"Default {DEFAULT_MAX_HEADER_BYTES} (64 KiB), unless the config file sets it.",
            show_default=False,
        ),
    ] = None,
    http: Annotated[
        HttpImplementation,
        typer.Option(help="HTTP/1.1 implementation: auto is httptools when installed, else h11."),
    ] = HttpImplementation.auto,
    drain_delay: Annotated[
        float,
        typer.Option(
            min=0,
            max=3600,
            help="On SIGTERM/SIGINT keep serving this many seconds with readiness failing, "
            "so load balancers stop sending traffic first; a second signal stops at once.",
        ),
    ] = 0.0,
    ssl_keyfile: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="TLS private key file.")
    ] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="TLS certificate file.")
    ] = None,
) -> None:
    """Serve TARGET (or the embedded demo agent server) with every plugin hooked in."""
    from .serve import serve

    if (ssl_keyfile is None) != (ssl_certfile is None):
        raise typer.BadParameter("--ssl-keyfile and --ssl-certfile go together")
    settings = ServeSettings(
        target=target,
        factory=factory,
        host=host,
        port=port,
        workers=workers,
        config_path=str(config) if config else None,
        log_level=log_level.value.upper() if log_level else None,
        reload=reload,
        app_dir=app_dir,
        root_path=root_path.rstrip("/"),
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
        limit_concurrency=limit_concurrency,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        drain_delay=drain_delay,
        max_header_bytes=max_header_bytes,
        http=http.value,
        disabled_plugins=info.disabled_plugins,
        config_sections=info.config_sections,
        plugin_options=dict(ctx.meta.get(PLUGIN_OPTIONS_KEY, {})),
    )
    serve(settings, pm)


def _plugins_command_for(pm: pluggy.PluginManager) -> Any:
    def plugins() -> None:
        """List the plugins that are loaded, with the hooks each implements."""
        names = plugin_names(pm)
        if not names:
            typer.echo("No plugins loaded.")
        for name in names:
            plugin = pm.get_plugin(name)
            hooks = sorted(impl.name for impl in pm.get_hookcallers(plugin) or [])
            typer.echo(f"{name}: {', '.join(hooks)}")

    return plugins


def _serve_with_plugin_options(pm: pluggy.PluginManager, info: HostInfo) -> Callable[..., None]:
    """``serve`` with the plugins' options added to its signature; their values go to ``ctx.meta``."""
    core = inspect.signature(_serve_command)
    hints = get_type_hints(_serve_command, include_extras=True)
    hidden = ("pm", "info")
    core = core.replace(parameters=[p for p in core.parameters.values() if p.name not in hidden])
    params = [p.replace(annotation=hints[p.name]) for p in core.parameters.values()]
    taken = set(core.parameters)
    names: list[str] = []
    for plugin, declare in call_each(pm, "robutler_serve_options", warn=_warn):
        if declare is None:
            continue
        try:
            declared = inspect.signature(declare)
            declared_hints = get_type_hints(declare, include_extras=True)
        except Exception as exc:
            _warn(f"plugin {plugin!r}: its serve options cannot be read ({exc}); ignored")
            continue
        for param in declared.parameters.values():
            if param.name in taken or param.default is inspect.Parameter.empty:
                _warn(f"plugin {plugin!r}: serve option {param.name!r} is taken or has no default; ignored")
                continue
            taken.add(param.name)
            names.append(param.name)
            annotation = declared_hints.get(param.name, param.annotation)
            params.append(param.replace(annotation=annotation, kind=inspect.Parameter.KEYWORD_ONLY))

    def serve(**kwargs: Any) -> None:
        ctx = kwargs["ctx"]
        # Plain values: they travel to worker processes as JSON.
        ctx.meta[PLUGIN_OPTIONS_KEY] = {name: _plain(kwargs.pop(name)) for name in names}
        _serve_command(pm=pm, info=info, **kwargs)

    serve.__signature__ = core.replace(parameters=params)  # type: ignore[attr-defined]
    serve.__annotations__ = {p.name: p.annotation for p in params}
    serve.__doc__ = _serve_command.__doc__
    return serve


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``robutler`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        disabled = disabled_plugins(args, os.environ)
        pm = get_plugin_manager(disabled, warn=_warn)
        cli = build_cli(pm, host_info(pm, disabled, warn=_warn))
        cli.main(args=args, prog_name="robutler", standalone_mode=True)
    except HostError as exc:
        _err.print(f"[red]Error:[/red] {escape(str(exc))}", markup=True)
        if exc.__cause__ is not None and (text := traceback_text(exc.__cause__)):
            _err.print(text.lstrip("\n"), markup=False, highlight=False)  # a plugin's failure
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get(TRACEBACK_ENV):
            raise
        _err.print(
            f"[red]Internal error:[/red] {type(exc).__name__}: {escape(str(exc))} "
            f"(set {TRACEBACK_ENV}=1 to see the traceback)",
            markup=True,
        )
        return 1
    return 0
