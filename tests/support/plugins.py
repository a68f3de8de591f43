"""Install a plugin into a folder the way pip would (module + dist-info with entry points)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def install_plugin(site: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> Path:
    """Write ``modules`` and a ``dist-info`` declaring ``entry_points`` into ``site``; return site.

    Putting ``site`` on ``PYTHONPATH`` makes the plugin visible to
    ``importlib.metadata.entry_points`` exactly as an installed distribution.
    """
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = [f"{name} = {value}" for name, value in entry_points.items()]
    (info / "entry_points.txt").write_text("[robutler.plugins]\n" + "\n".join(lines) + "\n")
    record = [f"{name}.py,," for name in modules] + [f"{info.name}/METADATA,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")
    return site
