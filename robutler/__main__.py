"""``robutler`` through the Robutler SDK's console script: robutler-monitoring's command.

The SDK (``robutler`` 0.2.0) declares the console script ``robutler =
robutler.__main__:main`` but ships no ``robutler/__main__.py``, and pip keeps one
``bin/robutler``: the one the package installed last wrote. This module, placed in
the ``robutler`` namespace by robutler-monitoring, makes the SDK's script run this
package's command, so ``robutler`` works whichever was installed last (and
``python -m robutler`` too).

What it costs: Python imports the package ``robutler`` (the SDK's ``__init__``, which
imports LiteLLM: seconds) before this module, and nothing here can prevent that. Where
start-up time matters (a Docker health check), run ``robutler-monitoring``, which
never imports the SDK. Nor can this module set ``LITELLM_LOCAL_MODEL_COST_MAP`` before
LiteLLM fetches its price list at import: ``robutler_monitoring_env.pth`` (``setup.py``)
does, when Python starts.

Owning a module in the SDK's namespace (``robutler.monitoring`` reuses this):
- Put it in the repository's ``robutler/`` folder, which has no ``__init__.py`` and
  must never get one (it would replace the SDK's); list it in
  ``[tool.setuptools.packages.find]`` and in ``tests/packaging`` (which checks that the
  wheel ships it and that no file we ship is a file the SDK ships).
- Only direct children of ``robutler`` work in editable installs (setuptools'
  editable finder maps ``robutler.X``, not ``robutler.utils.X``).
- Keep the module import-light and free of SDK imports: it runs after the SDK's
  ``__init__`` or, with the SDK uninstalled, in a bare namespace package.
- ``pip uninstall robutler`` leaves it (it is in our RECORD, not the SDK's);
  ``pip uninstall robutler-monitoring`` removes it.
- If an SDK release ships the same file, pip lets the last install overwrite the other's
  copy: :func:`main` says so when the SDK's RECORD claims ``robutler/__main__.py``.
"""

from __future__ import annotations

import sys
from importlib import metadata

SDK_DISTRIBUTION = "robutler"
THIS_FILE = "robutler/__main__.py"


def sdk_claims_this_module() -> str | None:
    """The SDK's version when its installed RECORD lists ``robutler/__main__.py``, else None."""
    try:
        dist = metadata.distribution(SDK_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    if any(str(path) == THIS_FILE for path in dist.files or ()):
        return dist.version
    return None


def main() -> int:
    """Entry point named by the SDK's ``robutler`` console script: robutler-monitoring's CLI."""
    version = sdk_claims_this_module()
    if version is not None:
        print(
            f"Warning: the Robutler SDK {version} ships its own robutler/__main__.py, which "
            "installing robutler-monitoring replaced; running robutler-monitoring's command. "
            f"'pip install --force-reinstall --no-deps robutler=={version}' restores the SDK's; "
            "'robutler-monitoring' always runs this package's.",
            file=sys.stderr,
        )
    from robutler_monitoring.host.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
