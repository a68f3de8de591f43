"""File outputs: several processes append whole lines, size rotation and retention hold up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from robutler_monitoring.plugin.logging.outputs import FileOutput, parse_retention, parse_size

WRITER = textwrap.dedent(
    """
    import json, sys
    from robutler_monitoring.plugin.logging.outputs import FileOutput, parse_size
    from robutler_monitoring.plugin.logging.writer import LineWriter
    path, name, count, rotation = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    out = FileOutput(path, max_bytes=parse_size(rotation) if rotation != "-" else None)
    writer = LineWriter(out, max_queue=1_000_000)
    for i in range(count):
        writer.write(json.dumps({"worker": name, "n": i, "pad": "x" * (50 + i % 400)}) + "\\n")
    writer.close()
    """
)


def _run_writers(path: Path, workers: int, count: int, rotation: str) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{w}", str(count), rotation])
        for w in range(workers)
    ]
    for proc in procs:
        assert proc.wait(60) == 0


def _read_all(files: list[Path]) -> list[dict[str, Any]]:
    entries = []
    for file in files:
        for line in file.read_text().splitlines():
            entries.append(json.loads(line))  # a torn or interleaved line would not parse
    return entries


@pytest.mark.slow
def test_workers_appending_to_one_file_never_tear_lines(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    _run_writers(path, workers=4, count=3000, rotation="-")
    entries = _read_all([path])
    assert len(entries) == 12_000
    for w in range(4):
        assert [e["n"] for e in entries if e["worker"] == f"w{w}"] == list(range(3000))


@pytest.mark.slow
def test_rotation_with_several_workers_loses_and_tears_nothing(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "app.log"
    _run_writers(path, workers=3, count=4000, rotation="200 KB")
    rotated = FileOutput(path).rotated_files()
    assert len(rotated) >= 5  # ~3.6 MB in 200 KB files
    entries = _read_all([*rotated, path])
    assert len(entries) == 12_000
    for w in range(3):
        assert sorted(e["n"] for e in entries if e["worker"] == f"w{w}") == list(range(4000))
    for file in rotated:
        assert file.stat().st_size < 200_000 * 1.5  # each worker rotates once it sees the size


def test_retention_keeps_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    out = FileOutput(path, max_bytes=parse_size("2 KiB"), retention=parse_retention("3 files"))
    for i in range(400):
        out.write(json.dumps({"n": i, "pad": "y" * 40}).encode() + b"\n")
    rotated = out.rotated_files()
    out.close()
    assert len(rotated) == 3
    newest = [json.loads(line)["n"] for line in path.read_text().splitlines()]
    assert newest[-1] == 399


def test_a_renamed_file_is_reopened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import robutler_monitoring.plugin.logging.outputs as outputs

    monkeypatch.setattr(outputs, "_REOPEN_CHECK_S", 0.0)
    path = tmp_path / "app.log"
    out = FileOutput(path)
    out.write(b"before\n")
    os.rename(path, tmp_path / "app.log.1")  # what logrotate does
    out.write(b"after-1\n")  # at most one write lands in the renamed file...
    out.write(b"after-2\n")
    out.close()
    assert "after-2" in path.read_text()  # ...then the new file is used


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10 MB", 10_000_000), ("512 KiB", 524_288), ("1gb", 10**9), ("4096", 4096)],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["ten MB", "10 parsecs", "10", "-5 MB"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a size|rotate on every line"):
        parse_size(text)


def test_parse_retention() -> None:
    assert parse_retention("10 files") == (10, None)
    assert parse_retention("7 days") == (None, 7 * 86400.0)
    with pytest.raises(ValueError, match="expected a count"):
        parse_retention("forever")
