"""Only what pyproject.toml cannot declare: one ``.pth`` file at the top of site-packages.

``robutler_monitoring_env.pth`` runs ``os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP",
"True")`` when Python starts, before the Robutler SDK's ``__init__`` imports LiteLLM, which
otherwise fetches a price list from the internet at import time. The README ("LiteLLM and
the network") says why a ``.pth`` and what it changes. Wheels get it from ``build_py``;
editable installs (``pip install -e``) from ``editable_wheel``, which writes its own
``.pth`` files in the same place.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "robutler_monitoring_env.pth"
SOURCE = Path(__file__).resolve().parent / PTH


class BuildPyWithPth(build_py):  # type: ignore[misc]
    """build_py, plus the ``.pth`` file at the root of the build (the root of site-packages)."""

    def run(self) -> None:
        super().run()
        self.copy_file(str(SOURCE), os.path.join(self.build_lib, PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode: Any = 1) -> list[str]:
        outputs: list[str] = super().get_outputs(include_bytecode)
        return [*outputs, os.path.join(self.build_lib, PTH)]


class EditableWheelWithPth(editable_wheel):  # type: ignore[misc]
    """editable_wheel, plus the ``.pth`` file beside the ``.pth`` files it writes itself."""

    def _install_namespaces(self, installation_dir: str, pth_prefix: str) -> None:
        super()._install_namespaces(installation_dir, pth_prefix)
        shutil.copyfile(SOURCE, os.path.join(installation_dir, PTH))


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
