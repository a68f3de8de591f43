"""Hooks are called through pluggy (wrappers included), each plugin isolated from the others."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pluggy
import pytest
import typer

from robutler_monitoring.host import HostError, HostInfo, ServeSettings, current_host_info, hookimpl
from robutler_monitoring.host import cli as cli_module
from robutler_monitoring.host import hookspecs as hookspecs_module
from robutler_monitoring.host.cli import build_cli
from robutler_monitoring.host.plugins import (
    HostPluginManager,
    call_each,
    failures_of,
    get_plugin_manager,
    wrap_each,
)

TESTS = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in vars(hookspecs_module) if name.startswith("robutler_"))


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test_plugin_implementing_it(hook: str) -> None:
    """Like datasette's test_plugin_hooks_have_tests: a new hook needs a test plugin using it."""
    pattern = re.compile(rf"^\s*(async )?def {hook}\(", re.MULTILINE)
    users = [p for p in TESTS.rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert users, f"no test plugin implements {hook}; add one (see tests/host/test_plugins.py)"


class Lines:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail = name, fail

    @hookimpl
    def robutler_startup_lines(self, settings: ServeSettings) -> list[str]:
        if self.fail:
            raise RuntimeError(f"{self.name} is broken")
        return [self.name]


class NewStyleWrapper:
    @hookimpl(wrapper=True)
    def robutler_startup_lines(
        self, settings: ServeSettings
    ) -> Generator[None, list[list[str]], list[list[str]]]:
        results = yield
        return [["before"], *results, ["after"]]


class OldStyleWrapper:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl(hookwrapper=True)
    def robutler_startup_lines(self, settings: ServeSettings) -> Generator[None, Any, None]:
        outcome = yield
        self.seen.append(outcome.get_result())


def _pm(*plugins: object) -> HostPluginManager:
    pm = get_plugin_manager(load_entry_points=False)
    for plugin in plugins:
        pm.register(plugin, name=getattr(plugin, "name", None))
    return pm


def test_hook_wrappers_work_as_pluggy_defines_them() -> None:
    old = OldStyleWrapper()
    pm = _pm(Lines("a"), Lines("b"), NewStyleWrapper(), old)
    results = call_each(pm, "robutler_startup_lines", settings=ServeSettings())
    assert [lines for _, lines in results] == [["before"], ["b"], ["a"], ["after"]]
    # registered last, the old-style wrapper is outermost: it sees what the new-style one returned
    assert old.seen == [[["before"], ["b"], ["a"], ["after"]]]


def test_a_raising_plugin_does_not_stop_the_others_and_is_named() -> None:
    warnings: list[str] = []
    pm = _pm(Lines("first"), Lines("broken", fail=True), Lines("last"))
    results = call_each(pm, "robutler_startup_lines", warn=warnings.append, settings=ServeSettings())
    assert [lines for _, lines in results] == [["last"], ["first"]]
    [warning] = warnings
    assert "plugin 'broken' failed in robutler_startup_lines: RuntimeError: broken is broken" in warning
    assert "Traceback" not in warning


def test_without_warn_the_failure_is_a_host_error_after_the_others_ran() -> None:
    ran: list[str] = []

    class Prepare:
        def __init__(self, name: str, fail: bool = False) -> None:
            self.name, self.fail = name, fail

        @hookimpl
        def robutler_serve_prepare(self, settings: ServeSettings) -> None:
            ran.append(self.name)
            if self.fail:
                raise ValueError("no")

    pm = _pm(Prepare("first"), Prepare("broken", fail=True), Prepare("last"))
    with pytest.raises(HostError, match="failed in robutler_serve_prepare: ValueError: no") as info:
        call_each(pm, "robutler_serve_prepare", settings=ServeSettings())
    assert ran == ["last", "broken", "first"]
    assert isinstance(info.value.__cause__, ValueError)  # shown by ROBUTLER_TRACEBACK=1


def test_robutler_traceback_shows_a_failing_hooks_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUTLER_TRACEBACK", "1")
    warnings: list[str] = []
    call_each(_pm(Lines("broken", fail=True)), "robutler_startup_lines", warn=warnings.append, settings=None)
    [warning] = warnings
    assert "Traceback (most recent call last)" in warning
    assert "in robutler_startup_lines" in warning and "RuntimeError: broken is broken" in warning


def test_wrappers_chain_each_given_what_the_previous_returned() -> None:
    class Wrap:
        def __init__(self, name: str, fail: bool = False) -> None:
            self.name, self.fail = name, fail

        @hookimpl
        def robutler_asgi_wrapper(self, app: Any, settings: ServeSettings) -> Any:
            if self.fail:
                raise RuntimeError("cannot wrap")
            return (self.name, app)

    pm = _pm(Wrap("inner"), Wrap("outer"))
    assert wrap_each(pm, "robutler_asgi_wrapper", "app", settings=ServeSettings()) == (
        "inner",
        ("outer", "app"),
    )
    with pytest.raises(HostError, match="plugin 'broken' failed in robutler_asgi_wrapper"):
        wrap_each(
            _pm(Wrap("inner"), Wrap("broken", fail=True)), "robutler_asgi_wrapper", "app", settings=None
        )


def test_an_async_hook_that_fails_while_awaited_is_recorded_for_its_plugin() -> None:
    class Startup:
        def __init__(self, name: str, fail: bool = False) -> None:
            self.name, self.fail = name, fail

        @hookimpl
        async def robutler_startup(self, settings: ServeSettings) -> None:
            await asyncio.sleep(0)
            if self.fail:
                raise RuntimeError("late")

    pm = _pm(Startup("ok"), Startup("late", fail=True))
    results, failures = failures_of(pm, "robutler_startup", settings=ServeSettings())

    async def await_all() -> None:
        for _, result in results:
            await result

    asyncio.run(await_all())
    assert [(plugin, str(exc)) for plugin, exc in failures] == [("late", "late")]


def test_calling_pm_hook_directly_is_plain_pluggy() -> None:
    pm = _pm(Lines("broken", fail=True))
    assert isinstance(pm, pluggy.PluginManager)
    with pytest.raises(RuntimeError, match="broken is broken"):
        pm.hook.robutler_startup_lines(settings=ServeSettings())


def test_a_plugins_command_reads_what_the_host_worked_out_once(capsys: pytest.CaptureFixture[str]) -> None:
    class Echo:
        @hookimpl
        def robutler_add_commands(self, cli: typer.Typer) -> None:
            @cli.command("sections")
            def sections() -> None:
                info = current_host_info()
                print(",".join(info.config_sections), "|", ",".join(info.disabled_plugins))

    pm = _pm(Echo())
    info = HostInfo(disabled_plugins=("payments",), config_sections=("monitoring", "payments"))
    build_cli(pm, info).main(args=["sections"], prog_name="robutler", standalone_mode=False)
    assert capsys.readouterr().out.strip() == "monitoring,payments | payments"
    assert current_host_info() == HostInfo()  # nothing left behind after the command


@pytest.mark.parametrize("traceback", [False, True])
def test_a_failing_serve_hook_is_one_line_and_its_traceback_on_request(
    traceback: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Refuses:
        @hookimpl
        def robutler_serve_prepare(self, settings: ServeSettings) -> None:
            raise KeyError("missing-setting")

    monkeypatch.setattr(cli_module, "get_plugin_manager", lambda *args, **kwargs: _pm(Refuses()))
    if traceback:
        monkeypatch.setenv("ROBUTLER_TRACEBACK", "1")
    else:
        monkeypatch.delenv("ROBUTLER_TRACEBACK", raising=False)
    assert cli_module.main(["serve", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "failed in robutler_serve_prepare: KeyError: 'missing-setting'" in err
    assert ("Traceback (most recent call last)" in err) == traceback
    assert (", in robutler_serve_prepare\n" in err) == traceback  # the frame of the plugin
