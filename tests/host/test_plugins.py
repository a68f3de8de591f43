"""Plugins found through the `robutler.plugins` entry point hook into the CLI and the served app."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.support.plugins import install_plugin
from tests.support.servers import robutler_serve, run_robutler

pytestmark = pytest.mark.slow  # every test here runs the robutler command

TINY = """
from typing import Annotated

import typer

from robutler_monitoring.host.hookspecs import hookimpl

STARTED = []
CALLS = []


@hookimpl
def robutler_serve_prepare(settings):
    CALLS.append("serve_prepare")


@hookimpl
def robutler_worker_prepare(settings):
    CALLS.append("worker_prepare")


@hookimpl
def robutler_uvicorn_config(settings, config):
    CALLS.append(f"uvicorn_config:{config['port'] == settings.port}")


@hookimpl
def robutler_startup_lines(settings):
    return ["tiny serves /tiny"]


@hookimpl
def robutler_draining(settings):
    print("tiny is draining", flush=True)


@hookimpl
def robutler_add_commands(cli):
    @cli.command("hello")
    def hello(name: str = "world"):
        '''Say hello from the tiny plugin.'''
        typer.echo(f"hello {name} from tiny")


@hookimpl
def robutler_serve_options():
    def options(
        greeting: Annotated[str | None, typer.Option(help="What /tiny answers.")] = None,
    ):
        pass

    return options


@hookimpl
def robutler_asgi_wrapper(app, settings):
    greeting = (settings.plugin_options.get("greeting") or "hi").encode()

    async def wrapper(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/tiny":
            body = greeting + b" started=" + str(len(STARTED)).encode() + b" " + ",".join(CALLS).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return wrapper


@hookimpl
async def robutler_startup(settings):
    STARTED.append(True)
"""

BROKEN = "import nosuchdependency_for_tests\n"


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    site = install_plugin(
        tmp_path / "site",
        "robutler-tiny",
        {"robutler_tiny": TINY},
        {"tiny": "robutler_tiny"},
    )
    install_plugin(site, "robutler-broken", {"robutler_broken": BROKEN}, {"broken": "robutler_broken"})
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": pythonpath, "COLUMNS": "200"}


def test_second_plugin_adds_a_command(plugin_env: dict[str, str]) -> None:
    result = run_robutler("hello", "--name", "ops", env=plugin_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello ops from tiny"


def test_broken_plugin_costs_one_warning_line_naming_it(plugin_env: dict[str, str]) -> None:
    result = run_robutler("plugins", env=plugin_env)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "broken" in line]
    assert len(warnings) == 1
    assert "plugin 'broken'" in warnings[0] and "ModuleNotFoundError" in warnings[0]
    assert "Traceback" not in result.stderr
    names = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert "tiny" in names and "monitoring" in names


def test_second_plugin_option_and_wrapper_reach_the_served_app(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    help_text = run_robutler("serve", "--help", env=plugin_env).stdout
    assert "--greeting" in help_text
    with robutler_serve("--greeting", "bonjour", tmp_path=tmp_path, env=plugin_env) as server:
        tiny = httpx.get(f"{server.base_url}/tiny")
        agents = httpx.get(f"{server.base_url}/agents")
        server.stop()
        output = server.stdout() + server.stderr()
    # the option reached the wrapper; the other hooks ran once each, in the order of a serve
    assert tiny.text == "bonjour started=1 serve_prepare,worker_prepare,uvicorn_config:True"
    assert agents.status_code == 200 and agents.json()["agents"]
    assert "tiny serves /tiny" in output  # startup lines
    assert "tiny is draining" in output  # draining, on the stop signal


@pytest.mark.parametrize("how", ["env", "flag"])
def test_plugins_can_be_disabled(plugin_env: dict[str, str], how: str) -> None:
    if how == "env":
        result = run_robutler("hello", env={**plugin_env, "ROBUTLER_DISABLE_PLUGINS": "tiny,broken"})
    else:
        result = run_robutler(
            "--disable-plugin", "tiny", "--disable-plugin", "broken", "hello", env=plugin_env
        )
    assert result.returncode == 2
    assert "No such command 'hello'" in result.stderr
    assert "broken" not in result.stderr.split("Usage")[0]  # the disabled broken plugin is not loaded
