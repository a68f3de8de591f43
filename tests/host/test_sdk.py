"""Robutler SDK agents are served through the SDK's own `create_server`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.sdk import sdk_installed
from tests.support.servers import robutler_serve

# Not imported here: the SDK reconfigures stdlib logging of the whole process on import.
pytestmark = pytest.mark.skipif(not sdk_installed(), reason="the sdk extra is not installed")


@pytest.mark.parametrize("attribute", ["agent", "agents"])
def test_sdk_agent_and_list_of_agents(tmp_path: Path, attribute: str) -> None:
    (tmp_path / "agents_app.py").write_text(
        textwrap.dedent(
            """
            from robutler.agents.core.base_agent import BaseAgent

            agent = BaseAgent(name="sdk-helper", instructions="Help.")
            agents = [agent, BaseAgent(name="sdk-second", instructions="Also help.")]
            """
        )
    )
    with robutler_serve(
        f"agents_app:{attribute}", "--app-dir", str(tmp_path), tmp_path=tmp_path, timeout=90
    ) as server:
        listed = httpx.get(f"{server.base_url}/agents", timeout=10).json()
        described = httpx.get(f"{server.base_url}/sdk-helper", timeout=10)
    names = {entry["name"] for entry in listed["agents"]}
    assert "sdk-helper" in names
    assert ("sdk-second" in names) == (attribute == "agents")
    assert described.status_code == 200
