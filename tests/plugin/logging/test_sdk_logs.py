"""Serving Robutler SDK agents: the SDK's own log lines and prints join the one JSON stream."""

from __future__ import annotations

import collections
import json
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.sdk import sdk_installed
from tests.support.servers import robutler_serve

from .support import check_schema

# The SDK is not imported here: it reconfigures stdlib logging of the whole process.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sdk_installed(), reason="no sdk extra"),
]

_TARGET = """
import logging

from robutler.agents.core.base_agent import BaseAgent
from robutler.server.core.app import create_server
from robutler.utils.logging import configure_external_logger

agent = BaseAgent(name="sdk-helper", instructions="Help.")
# A logger made after the SDK's import gets the SDK's Logger class (own stdout handler).
logging.getLogger("user.late").warning("late logger line")
server = create_server(agents=[agent])  # prints a banner to stdout


@server.app.get("/late")
def late() -> dict[str, str]:
    # configured while serving: a stdout handler and propagate=False, at call time
    configure_external_logger("user.external")
    logging.getLogger("user.external").warning("external logger line")
    logging.getLogger("user.later").warning("logger made while serving")
    print("printed while serving")
    return {"ok": "yes"}
"""


def test_sdk_lines_are_schema_json_and_not_duplicated(tmp_path: Path) -> None:
    (tmp_path / "sdk_agents.py").write_text(textwrap.dedent(_TARGET))
    with robutler_serve(
        "sdk_agents:server", "--app-dir", str(tmp_path), tmp_path=tmp_path, timeout=90
    ) as server:
        assert httpx.get(f"{server.base_url}/agents", timeout=10).status_code == 200
        for _ in range(2):  # the second call finds user.external configured already
            assert httpx.get(f"{server.base_url}/late", timeout=10).status_code == 200
        assert server.stop() == 0
    entries = []
    for line in server.stdout().splitlines():
        entry = json.loads(line)  # every line is JSON: the SDK's, its prints, uvicorn's
        check_schema(entry)
        entries.append(entry)
    by_message = collections.defaultdict(list)
    for entry in entries:
        by_message[entry["message"]].append(entry)

    # the SDK's own loggers, with their names and levels, logged once
    sdk = [e for e in entries if e["logger"].startswith("robutler.")]
    assert any("BaseAgent created" in e["message"] for e in sdk), entries
    assert [e["logger"] for e in by_message["late logger line"]] == ["user.late"]
    assert [e["level"] for e in by_message["late logger line"]] == ["WARNING"]
    assert [e["logger"] for e in by_message["external logger line"]] == ["user.external"] * 2
    assert [e["logger"] for e in by_message["logger made while serving"]] == ["user.later"] * 2
    assert all("request_id" in e for e in by_message["external logger line"])
    # print() output: one record per line, no blank or ANSI-coloured leftovers
    banner = by_message["\U0001f680 Robutler V2 Server initialized"]
    assert [(e["logger"], e["level"]) for e in banner] == [("stdout", "INFO")]
    printed = by_message["printed while serving"]
    assert [e["logger"] for e in printed] == ["stdout"] * 2
    assert all("request_id" in e for e in printed)
    # nothing LiteLLM stamps on records for its own use leaks into the fields
    assert not any("litellm_redacted" in e for e in entries)
    assert "Application startup complete." in by_message
    duplicated = {
        m: len(found) for m, found in by_message.items() if len({e["timestamp"] for e in found}) < len(found)
    }
    assert not duplicated, duplicated
