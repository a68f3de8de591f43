"""Request ids: 32 hex characters, never repeated within a process, across threads or in a forked worker."""

from __future__ import annotations

import os
import re
import threading

import pytest

from robutler_monitoring.plugin.http.context import _BATCH, new_request_id, sanitize_request_id

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_ids_are_32_hex_characters_and_unique_across_many_batches() -> None:
    ids = [new_request_id() for _ in range(_BATCH * 5 + 7)]
    assert all(_HEX32.match(rid) for rid in ids)
    assert len(set(ids)) == len(ids)
    assert sanitize_request_id(ids[0]) == ids[0]  # what we hand out we would accept back


def test_threads_taking_ids_at_once_never_get_the_same_one() -> None:
    found: list[list[str]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def take(out: list[str]) -> None:
        start.wait()
        for _ in range(_BATCH * 3):
            out.append(new_request_id())

    threads = [threading.Thread(target=take, args=(out,)) for out in found]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [rid for out in found for rid in out]
    assert len(set(every)) == len(every) == 4 * _BATCH * 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_does_not_repeat_the_ids_its_parent_had_ready() -> None:
    new_request_id()  # the parent holds a batch made before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it hands out next
        os.close(read)
        os.write(write, " ".join(new_request_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 4096):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent = [new_request_id() for _ in range(_BATCH)]
    child_ids = child.decode().split()
    assert len(child_ids) == 10
    assert not set(child_ids) & set(parent)
    assert {rid[:16] for rid in child_ids} != {rid[:16] for rid in parent}  # a fresh prefix
