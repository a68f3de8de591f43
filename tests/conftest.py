"""Suite-wide rules: a test that starts a process or a server must be marked ``slow``.

``pytest -m "not slow"`` is the quick run a maintainer does often; this fixture keeps
it quick by failing any unmarked test at the moment it starts a subprocess or listens
on a socket, with the line to add.
"""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


@pytest.fixture(autouse=True)
def _processes_and_servers_only_in_slow_tests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.get_closest_marker("slow") is not None:
        return

    def refuse(what: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> NoReturn:
            pytest.fail(f"{request.node.nodeid} {what}: mark it @pytest.mark.slow", pytrace=False)

        return refused

    monkeypatch.setattr(subprocess, "Popen", refuse("starts a process"))
    monkeypatch.setattr(socket.socket, "listen", refuse("starts a server (listens on a socket)"))
