"""The installed ``robutler`` and ``robutler-monitoring`` scripts, in every install order.

The Robutler SDK declares a ``robutler`` console script too (``robutler.__main__:main``, a
module it does not ship); pip keeps the one written last and deletes it when either
package is uninstalled. Each test builds fresh venvs (see ``tests/support/venvs.py``) and
runs the scripts as a user's shell would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.offline import OFFLINE_IMPORT
from tests.support.servers import free_port, wait_for_port
from tests.support.venvs import QUIET_SDK_ENV, Kit, Ran, Venv, write_wheel

from .conftest import SDK

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

OURS = "from robutler_monitoring.host.cli import main"
THE_SDKS = "from robutler.__main__ import main"


def _imported_modules(ran: Ran) -> set[str]:
    """Modules named by ``PYTHONPROFILEIMPORTTIME=1`` on stderr."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in ran.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def assert_runs_our_command(env: Venv, script: str = "robutler") -> Ran:
    """``SCRIPT plugins`` builds the whole CLI and lists the monitoring plugin."""
    ran = env.run(script, "plugins", env=QUIET_SDK_ENV)
    assert ran.returncode == 0, f"{script} plugins exited {ran.returncode}:\n{ran.stdout}\n{ran.stderr}"
    assert ran.stdout.startswith("monitoring: "), ran.stdout
    return ran


#: the product documentation's import lines, verbatim
DOCS_IMPORTS = """
from robutler.monitoring import metrics, performance_monitor, track_skill_performance
from robutler.monitoring import enable_tracing
import robutler.agents.core.base_agent  # the SDK's own package is still the SDK's
print(metrics.__class__.__name__, performance_monitor.__module__, enable_tracing.__module__)
"""


def assert_docs_imports_work(env: Venv) -> None:
    """``from robutler.monitoring import ...`` as the docs write it, with the SDK installed."""
    ran = env.run("python", "-c", DOCS_IMPORTS, env={"LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    assert ran.returncode == 0, ran.stderr
    assert "robutler_monitoring.api" in ran.stdout, ran.stdout


def assert_never_imports_the_sdk(env: Venv, script: str = "robutler-monitoring") -> None:
    ran = env.run(script, "plugins", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "monitoring: " in ran.stdout
    imported = _imported_modules(ran)
    assert "robutler_monitoring.host.cli" in imported  # the profile is being read
    assert not {m for m in imported if m == "robutler" or m.startswith(("robutler.", "litellm"))}


def assert_offline(env: Venv) -> None:
    """The SDK's import (LiteLLM's) reaches for no network, whatever wrote ``bin/robutler`` (no env set)."""
    ran = env.run("python", "-c", OFFLINE_IMPORT.format(module="robutler.monitoring"))
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.splitlines()[-1]) == {"cost_map_env": "True", "litellm": True, "reached": []}
    ran = env.run("robutler", "plugins")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "cost map" not in ran.stderr  # LiteLLM's "model cost map fetch attempt 1/3 failed"


def assert_both_names_work(env: Venv) -> None:
    assert_runs_our_command(env, "robutler")
    assert_runs_our_command(env, "robutler-monitoring")
    assert_never_imports_the_sdk(env)


def assert_serves_the_demo(env: Venv, tmp_path: Path) -> None:
    """The issue's crash: `robutler serve` after the SDK wrote bin/robutler; it answers `/agents`."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(env.bin("robutler")), "serve", "--port", str(port), "--log-format", "console"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=env.path,
            env={**QUIET_SDK_ENV, "PATH": "/usr/bin:/bin"},
        )
    try:
        deadline = time.monotonic() + 120  # importing the SDK first takes seconds
        while not wait_for_port("127.0.0.1", port, timeout=0.5):
            output = log_path.read_text(errors="replace")
            assert proc.poll() is None, f"robutler serve exited {proc.returncode}:\n{output}"
            assert time.monotonic() < deadline, f"robutler serve did not listen:\n{output}"
        response = httpx.get(f"http://127.0.0.1:{port}/agents", timeout=30)
        assert response.status_code == 200
        assert "assistant" in response.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("editable", "extra"),
    [(True, "sdk"), (False, "sdk"), (True, "test")],
    ids=["pip-install-e-sdk", "pip-install-sdk", "pip-install-e-test"],
)
def test_one_pip_install_with_the_sdk(kit: Kit, tmp_path: Path, editable: bool, extra: str) -> None:
    env = Venv.create(tmp_path / "venv", kit)
    env.pip("install", "--quiet", *(["--editable"] if editable else []), f"{kit.source}[{extra}]")
    assert env.script_imports("robutler") in (OURS, THE_SDKS)  # pip chooses the order
    assert_both_names_work(env)
    assert_docs_imports_work(env)
    assert_offline(env)


def test_this_package_then_the_sdk_then_reinstall_then_uninstall(kit: Kit, tmp_path: Path) -> None:
    env = Venv.create(tmp_path / "venv", kit)
    env.pip("install", "--quiet", str(kit.wheel))
    assert env.script_imports("robutler") == OURS
    assert_runs_our_command(env)

    env.pip("install", "--quiet", SDK)
    assert env.script_imports("robutler") == THE_SDKS
    assert_both_names_work(env)
    assert_offline(env)  # the SDK's script imports its __init__ (LiteLLM) before our module
    assert_serves_the_demo(env, tmp_path)

    env.pip("install", "--quiet", "--force-reinstall", "--no-deps", SDK)  # as an SDK upgrade would
    assert env.script_imports("robutler") == THE_SDKS
    assert_runs_our_command(env)

    env.pip("uninstall", "--yes", "robutler")  # takes bin/robutler with it, whoever wrote it
    assert not env.bin("robutler").exists()
    assert_runs_our_command(env, "robutler-monitoring")
    assert_never_imports_the_sdk(env)

    # the README's one command to restore `robutler` (an installed, not editable, package)
    env.pip("install", "--quiet", "--force-reinstall", "--no-deps", str(kit.wheel))
    assert env.script_imports("robutler") == OURS
    assert_runs_our_command(env)

    env.pip("install", "--quiet", SDK)
    env.pip("uninstall", "--yes", "robutler-monitoring")
    assert not env.bin("robutler-monitoring").exists()
    package = next(env.path.glob("lib/python*/site-packages/robutler"))
    assert (package / "__init__.py").is_file()  # the SDK is intact
    assert not (package / "__main__.py").exists()  # and what we put in its namespace is gone
    assert not (package.parent / "robutler_monitoring_env.pth").exists()  # and our .pth


def test_sdk_then_this_package_editable_then_sdk_reinstall_and_uninstall(kit: Kit, tmp_path: Path) -> None:
    env = Venv.create(tmp_path / "venv", kit)
    env.pip("install", "--quiet", SDK)
    assert env.script_imports("robutler") == THE_SDKS
    env.pip("install", "--quiet", "--editable", str(kit.source))
    assert env.script_imports("robutler") == OURS
    assert_both_names_work(env)
    assert_never_imports_the_sdk(env, "robutler")  # our script, the SDK installed

    env.pip("install", "--quiet", "--force-reinstall", "--no-deps", SDK)
    assert env.script_imports("robutler") == THE_SDKS
    assert_runs_our_command(env)  # robutler.__main__ found through the editable install
    assert_offline(env)  # the .pth of the editable install, before the SDK's __init__

    env.pip("uninstall", "--yes", "robutler")
    assert not env.bin("robutler").exists()
    assert_runs_our_command(env, "robutler-monitoring")

    # the README's one command to restore `robutler` in a checkout
    env.pip("install", "--quiet", "--no-deps", "--force-reinstall", "--editable", str(kit.source))
    assert env.script_imports("robutler") == OURS
    assert_runs_our_command(env)


def test_an_sdk_release_with_its_own_main_keeps_it(kit: Kit, tmp_path: Path) -> None:
    """Should the SDK ship ``robutler/__main__.py`` one day, its script runs its own CLI."""
    main = 'def main():\n    print("the SDK\'s own command")\n    return 0\n'
    future_sdk = write_wheel(
        tmp_path,
        "robutler",
        "9.0.0",
        {"robutler/__init__.py": "", "robutler/__main__.py": main},
        "[console_scripts]\nrobutler = robutler.__main__:main\n",
    )
    env = Venv.create(tmp_path / "venv", kit)
    env.pip("install", "--quiet", "--no-deps", str(kit.wheel))
    env.pip("install", "--quiet", "--no-deps", str(future_sdk))  # SDK last: its module and script
    ran = env.run("robutler")
    assert (ran.returncode, ran.stdout) == (0, "the SDK's own command\n")
    assert_runs_our_command(env, "robutler-monitoring")

    # this package last overwrites the SDK's file (pip keeps one copy): we say so, and how to undo it
    env.pip("install", "--quiet", "--no-deps", "--force-reinstall", str(kit.wheel))
    ran = env.run("python", "-m", "robutler", "plugins")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("monitoring: ")
    assert "the Robutler SDK 9.0.0 ships its own robutler/__main__.py" in ran.stderr
    assert "pip install --force-reinstall --no-deps robutler==9.0.0" in ran.stderr
