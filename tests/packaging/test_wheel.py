"""What the wheel ships: the package, the one module in the SDK's namespace, the entry points."""

from __future__ import annotations

import configparser
import zipfile
from pathlib import Path

import pytest

from tests.support.venvs import Kit

PTH = "robutler_monitoring_env.pth"  # setup.py
pytestmark = pytest.mark.slow  # builds the wheel in a subprocess


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _dist_info(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name}-{version}.dist-info"


def test_ships_the_package_and_our_two_robutler_modules_only(kit: Kit) -> None:
    names = _names(kit.wheel)
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"robutler", "robutler_monitoring", PTH, _dist_info(kit.wheel)}
    assert {name for name in names if name.startswith("robutler/")} == {
        "robutler/__main__.py",
        "robutler/monitoring.py",
    }
    assert "robutler_monitoring/py.typed" in names
    assert "robutler_monitoring/host/cli.py" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_ships_one_pth_that_only_sets_the_local_cost_map(kit: Kit) -> None:
    """It runs in every program of the environment: one setdefault, nothing else (README)."""
    with zipfile.ZipFile(kit.wheel) as archive:
        text = archive.read(PTH).decode()
    assert text == 'import os; os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")\n'


def test_ships_no_file_of_the_sdk(kit: Kit) -> None:
    """A file both wheels ship would be overwritten by the last install and deleted by either uninstall."""
    sdk_wheel = next(kit.wheelhouse.glob("robutler-*.whl"))
    shared = {n for n in _names(kit.wheel) & _names(sdk_wheel) if ".dist-info/" not in n}
    assert shared == set()
    assert "robutler/__init__.py" in _names(sdk_wheel)  # the namespace we add to is the SDK's package


def test_entry_points(kit: Kit) -> None:
    with zipfile.ZipFile(kit.wheel) as archive:
        text = archive.read(f"{_dist_info(kit.wheel)}/entry_points.txt").decode()
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    assert dict(parser["console_scripts"]) == {
        "robutler": "robutler_monitoring.host.cli:main",
        "robutler-monitoring": "robutler_monitoring.host.cli:main",
    }
    assert dict(parser["robutler.plugins"]) == {"monitoring": "robutler_monitoring.plugin.hooks"}
