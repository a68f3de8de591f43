"""Robutler SDK agents (and subclasses of BaseAgent) are served through the SDK's own `create_server`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from robutler_monitoring.integrations.robutler_sdk.serving import is_sdk_object
from tests.support.sdk import sdk_installed
from tests.support.servers import robutler_serve

# Not imported here: the SDK reconfigures stdlib logging of the whole process on import.
pytestmark = pytest.mark.skipif(not sdk_installed(), reason="the sdk extra is not installed")


@pytest.mark.slow
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


SUBCLASS_APP = """
from robutler.agents.core.base_agent import BaseAgent

from robutler_monitoring import performance_monitor


class MonitoredAgent(BaseAgent):
    \"\"\"An agent of the user's own, as the product documentation writes one.\"\"\"

    @performance_monitor
    async def my_agent_method(self, context: str) -> str:
        return context.upper()


agent = MonitoredAgent(name="monitored", instructions="Help.")
agents = [agent, MonitoredAgent(name="monitored-two", instructions="Also help.")]


def make_agents():
    return [MonitoredAgent(name="monitored", instructions="Help.")]
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("attribute", "extra", "names"),
    [
        ("agent", [], {"monitored"}),
        ("agents", [], {"monitored", "monitored-two"}),
        ("make_agents", ["--factory"], {"monitored"}),
    ],
)
def test_a_subclass_of_base_agent_is_served(
    tmp_path: Path, attribute: str, extra: list[str], names: set[str]
) -> None:
    (tmp_path / "monitored_app.py").write_text(SUBCLASS_APP)
    target = f"monitored_app:{attribute}"
    with robutler_serve(target, *extra, "--app-dir", str(tmp_path), tmp_path=tmp_path, timeout=90) as server:
        listed = httpx.get(f"{server.base_url}/agents", timeout=10).json()
        described = httpx.get(f"{server.base_url}/monitored", timeout=10)
    assert {entry["name"] for entry in listed["agents"]} == names
    assert described.status_code == 200


def test_sdk_objects_are_recognised_by_any_base_class_without_importing_the_sdk() -> None:
    base = type("BaseAgent", (), {"__module__": "robutler.agents.core.base_agent"})
    mine = type("MonitoredAgent", (base,), {"__module__": "my_agents"})
    assert is_sdk_object(mine()) and is_sdk_object([mine(), base()])
    assert not is_sdk_object(object()) and not is_sdk_object([]) and not is_sdk_object([mine(), 1])


@pytest.mark.slow
def test_health_keeps_status_and_adds_the_sdk_fields(tmp_path: Path) -> None:
    from importlib import metadata

    (tmp_path / "two_agents.py").write_text(
        "from robutler.agents.core.base_agent import BaseAgent\n"
        'agents = [BaseAgent(name="one", instructions="a"), BaseAgent(name="two", instructions="b")]\n'
    )
    with robutler_serve(
        "two_agents:agents", "--app-dir", str(tmp_path), tmp_path=tmp_path, timeout=90
    ) as server:
        health = httpx.get(f"{server.base_url}/health", timeout=10)
        detailed = httpx.get(f"{server.base_url}/health/detailed", timeout=30).json()
    sdk = {"agents_count": 2, "dynamic_agents_enabled": False, "sdk_version": metadata.version("robutler")}
    assert health.status_code == 200
    assert health.json() == {"status": "pass", **sdk}
    assert {key: detailed[key] for key in sdk} == sdk
    assert detailed["status"] == "pass" and "checks" in detailed
