"""Fresh virtual environments that install this checkout the way users do, quickly.

Building a venv per install order with every dependency would take minutes each. So:

- a *wheelhouse* is filled once per session with ``pip download`` (the pip cache makes it
  quick): the Robutler SDK and the build backend, so installs run ``--no-index``;
- the third-party dependencies come from the test run's own environment through one
  ``.pth`` file pointing at a *shared site*: a folder of symlinks to its site-packages
  minus the SDK, this package, pip and setuptools. pip sees them as installed, so a real
  ``pip install '.[sdk]'`` resolves and installs just this package and the SDK, in the
  order pip chooses, writing the real console scripts;
- venvs are made without pip (``venv --without-pip``); the test run's pip drives them
  through ``pip --python``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import venv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: distributions and modules in site-packages a fresh venv must not see from the shared site
_NOT_SHARED = {
    "robutler",
    "robutler_monitoring",
    "pip",
    "setuptools",
    "_distutils_hack",
    "pkg_resources",
    "wheel",
}
#: what a source copy leaves out
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "results"
)
#: LiteLLM (imported by the SDK's __init__) fetches a price list from the internet unless told not to
QUIET_SDK_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}


@dataclass(frozen=True)
class Kit:
    """What every fresh venv of a session shares."""

    source: Path  # a copy of this checkout (pip builds in it; the checkout stays clean)
    wheelhouse: Path  # the SDK's wheel, the build backend, and this package's wheel
    shared_site: Path  # symlinks to the test environment's third-party packages
    wheel: Path  # this package's wheel, built from ``source``


def _run(
    argv: Sequence[str], timeout: float = 300.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        check=False,
    )
    if result.returncode != 0:
        command = " ".join(argv)
        raise AssertionError(f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


class RegistryUnavailable(Exception):
    """``pip download`` failed: the package registry (or pip's cache) cannot be reached."""


def make_kit(root: Path, checkout: Path, sdk_requirement: str) -> Kit:
    """Copy the checkout, fill the wheelhouse, link the shared site, build this package's wheel."""
    source = root / "source"
    shutil.copytree(checkout, source, ignore=_NOT_COPIED, symlinks=True)
    wheelhouse = root / "wheelhouse"
    pip = [sys.executable, "-m", "pip"]
    build_requires = tomllib.loads((checkout / "pyproject.toml").read_text())["build-system"]["requires"]
    try:
        _run([*pip, "download", "--quiet", "--dest", str(wheelhouse), "--no-deps", sdk_requirement])
        _run([*pip, "download", "--quiet", "--dest", str(wheelhouse), *build_requires])
    except AssertionError as exc:
        raise RegistryUnavailable(str(exc)) from exc
    shared_site = root / "shared-site"
    shared_site.mkdir()
    site_packages = Path(sysconfig.get_paths()["purelib"])
    for entry in site_packages.iterdir():
        name = entry.name
        base = name.split("-", 1)[0].split(".", 1)[0]
        if entry.suffix == ".pth" or name == "__pycache__" or base in _NOT_SHARED or base.startswith("__"):
            continue
        (shared_site / name).symlink_to(entry)
    _run(
        [
            *pip,
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--wheel-dir",
            str(wheelhouse),
            str(source),
        ]
    )
    wheel = next(wheelhouse.glob("robutler_monitoring-*.whl"))
    return Kit(source, wheelhouse, shared_site, wheel)


@dataclass(frozen=True)
class Venv:
    """A fresh venv whose third-party dependencies come from the kit's shared site."""

    path: Path
    kit: Kit

    @classmethod
    def create(cls, path: Path, kit: Kit) -> Venv:
        venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
        purelib = subprocess.run(
            [str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        Path(purelib, "_shared_test_deps.pth").write_text(f"{kit.shared_site}\n")
        return cls(path, kit)

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run pip on this venv; installs come from the wheelhouse only."""
        argv = [sys.executable, "-m", "pip", "--python", str(self.bin("python")), *args]
        if args[0] in ("install", "download", "wheel"):
            argv += ["--no-index", "--find-links", str(self.kit.wheelhouse)]
        return _run(argv, cwd=self.kit.source)

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def run(self, script: str, *args: str, env: dict[str, str] | None = None) -> Ran:
        """Run an installed script by its path, as a user's shell would; never raises.

        The test run's ``ROBUTLER_``, ``PYTHON`` and ``LITELLM_`` variables are left out.
        """
        # nor LITELLM_LOCAL_MODEL_COST_MAP: the test run's own .pth set it, the venv's must
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("ROBUTLER_", "PYTHON", "LITELLM_"))
        }
        environment.update(env or {})
        started = time.monotonic()
        result = subprocess.run(
            [str(self.bin(script)), *args],
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
            env=environment,
            cwd=self.path,
            check=False,
        )
        return Ran(result.returncode, result.stdout, result.stderr, time.monotonic() - started)

    def script_imports(self, script: str) -> str:
        """The import line of an installed console script (which package wrote it)."""
        text = self.bin(script).read_text()
        return next(line for line in text.splitlines() if line.startswith("from "))


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def write_wheel(directory: Path, name: str, version: str, files: dict[str, str], entry_points: str) -> Path:
    """Write a pure-Python wheel of ``files`` (path -> text), e.g. a release that does not exist yet."""
    import base64
    import hashlib
    import zipfile

    dist_info = f"{name}-{version}.dist-info"
    contents = {
        **files,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": entry_points,
    }
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel
