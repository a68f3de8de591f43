"""Several processes sharing one pipe or file: long lines stay whole, nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from robutler_monitoring.plugin.logging.outputs import FdOutput
from robutler_monitoring.plugin.logging.writelock import LOCK_ENV, PIPE_BUF, lock_for

WRITER = textwrap.dedent(
    """
    import json, os, sys
    from robutler_monitoring.plugin.logging.outputs import FdOutput, FileOutput
    from robutler_monitoring.plugin.logging.writer import LineWriter
    target, name = sys.argv[1], sys.argv[2]
    count, low, high = (int(arg) for arg in sys.argv[3:6])
    lock = os.environ.get("ROBUTLER_LOG_LOCK")
    out = FdOutput(1, lock) if target == "stdout" else FileOutput(target)
    writer = LineWriter(out, max_queue=1_000_000)
    for i in range(count):
        size = low + (i * 7919) % (high - low + 1)
        writer.write(json.dumps({"worker": name, "n": i, "pad": name * size}) + "\\n")
    writer.close()
    """
)


def _start(
    target: str, name: str, count: int, low: int, high: int, env: dict[str, str], stdout: int | IO[bytes]
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", WRITER, target, name, str(count), str(low), str(high)]
    return subprocess.Popen(argv, stdout=stdout, env={**os.environ, **env})


def _slow_read(pipe: IO[bytes], into: bytearray) -> None:
    # a log shipper that falls behind: the pipe fills, and long writes go in pieces
    while chunk := pipe.read1(8192):  # type: ignore[attr-defined]
        into += chunk
        time.sleep(0.0002)


def _check_whole(data: bytes, counts: dict[str, int]) -> None:
    lines = data.split(b"\n")
    assert lines[-1] == b""
    torn = 0
    seen: dict[str, list[int]] = {name: [] for name in counts}
    for line in lines[:-1]:
        try:
            entry = json.loads(line)
        except ValueError:
            torn += 1
            continue
        assert entry["pad"] == entry["worker"] * len(entry["pad"])  # no foreign bytes inside
        seen[entry["worker"]].append(entry["n"])
    assert torn == 0, f"{torn} torn lines"
    for name, count in counts.items():
        assert seen[name] == list(range(count)), name  # each worker's lines, all, in order


@pytest.mark.slow
def test_long_lines_of_several_processes_on_one_pipe_stay_whole(tmp_path: Path) -> None:
    lock = tmp_path / "log.lock"
    env = {LOCK_ENV: str(lock)}
    read_end, write_end = os.pipe()
    counts = {"a": 300, "b": 300, "c": 3000}
    procs = [
        _start("stdout", "a", counts["a"], 5_000, 20_000, env, write_end),  # tracebacks
        _start("stdout", "b", counts["b"], 5_000, 20_000, env, write_end),
        _start("stdout", "c", counts["c"], 50, 400, env, write_end),  # access records
    ]
    os.close(write_end)
    data = bytearray()
    with os.fdopen(read_end, "rb") as pipe:
        reader = threading.Thread(target=_slow_read, args=(pipe, data))
        reader.start()
        for proc in procs:
            assert proc.wait(120) == 0
        reader.join(60)
    _check_whole(bytes(data), counts)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["O_APPEND file", "inherited stdout file"])
def test_64_kb_lines_of_two_processes_in_one_regular_file_stay_whole(tmp_path: Path, how: str) -> None:
    path = tmp_path / "app.log"
    counts = {"a": 200, "b": 200}
    if how == "O_APPEND file":
        procs = [
            _start(str(path), name, n, 65_536, 65_536, {}, subprocess.DEVNULL) for name, n in counts.items()
        ]
        for proc in procs:
            assert proc.wait(120) == 0
    else:  # `robutler serve > app.log`: the workers share one offset, and no lock is taken
        with path.open("wb") as shared:
            procs = [
                _start("stdout", name, n, 65_536, 65_536, {LOCK_ENV: ""}, shared)
                for name, n in counts.items()
            ]
            for proc in procs:
                assert proc.wait(120) == 0
    _check_whole(path.read_bytes(), counts)


def test_only_pipes_and_terminals_are_locked(tmp_path: Path) -> None:
    lock = str(tmp_path / "log.lock")
    read_end, write_end = os.pipe()
    try:
        pipe_lock = lock_for(write_end, lock)
        assert pipe_lock is not None and pipe_lock.atomic_max == PIPE_BUF
        assert lock_for(write_end, None) is None  # one process: nothing to share
    finally:
        os.close(read_end)
        os.close(write_end)
    with (tmp_path / "f.log").open("wb") as regular, open(os.devnull, "wb") as null:
        assert lock_for(regular.fileno(), lock) is None
        assert lock_for(null.fileno(), lock) is None


def test_an_unopenable_lock_file_loses_no_line(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        out = FdOutput(write_end, str(tmp_path / "missing-dir" / "log.lock"))
        line = b'{"message": "' + b"x" * (PIPE_BUF * 2) + b'"}\n'
        received = bytearray()
        reader = threading.Thread(target=lambda: received.extend(_read_exactly(read_end, len(line))))
        reader.start()
        out.write(line)
        reader.join(10)
        assert bytes(received) == line
        out.close()
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.slow
def test_the_serve_process_removes_its_lock_file_at_exit() -> None:
    code = (
        "from robutler_monitoring.plugin.logging.writelock import create_lock_file\n"
        "import os\n"
        "path = create_lock_file()\n"
        "assert os.environ['ROBUTLER_LOG_LOCK'] == path and os.path.exists(path)\n"
        "print(path)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    path = Path(done.stdout.strip())
    assert path.name.startswith("robutler-log-")
    assert not path.exists()


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            break
        data += chunk
    return data
