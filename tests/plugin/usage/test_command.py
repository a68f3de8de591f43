"""``robutler monitor usage``: sums from an export file or a spool; unpriced usage apart; clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from robutler_monitoring.plugin.usage.concern import UsageConcern
from robutler_monitoring.plugin.usage.spool import Spool

DAY = 86400.0


def _records(now: float) -> list[dict[str, Any]]:
    llm: dict[str, Any] = {"type": "llm", "prompt_tokens": 100, "completion_tokens": 20}
    return [
        llm
        | {
            "id": "a-0",
            "agent": "support",
            "model": "gpt-4o-mini",
            "cost_usd": 0.0001,
            "timestamp": now - 60,
        },
        llm
        | {
            "id": "a-1",
            "agent": "support",
            "model": "gpt-4o-mini",
            "cost_usd": 0.0002,
            "timestamp": now - 30,
        },
        llm
        | {"id": "b-0", "agent": "research", "model": "acme-llm-7", "cost_usd": None, "timestamp": now - 30},
        {"type": "tool", "id": "b-1", "agent": "research", "tool": "search", "timestamp": now - 20},
        llm
        | {
            "id": "c-0",
            "agent": "support",
            "model": "gpt-4o-mini",
            "cost_usd": 1.0,
            "timestamp": now - 3 * DAY,
        },
    ]


def _monitor() -> typer.Typer:
    monitor = typer.Typer()
    monitor.callback()(lambda: None)  # a group, as `robutler monitor` is
    UsageConcern().commands(monitor)
    return monitor


def _run(*args: str) -> Any:
    return CliRunner().invoke(_monitor(), ["usage", *args], env={"COLUMNS": "200"})


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_json_by_agent_counts_each_id_once_and_keeps_unpriced_apart(tmp_path: Path) -> None:
    import time

    path = tmp_path / "usage.jsonl"
    records = _records(time.time())
    _write(path, [*records[:2], records[0]])  # a re-sent copy: counted once
    _write(Path(f"{path}.1"), records[2:])  # rotated file read too
    result = _run("--file", str(path), "--by", "agent", "--since", "1d", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in json.loads(result.output)["rows"]}
    assert rows["support"]["llm_calls"] == 2 and rows["support"]["cost_usd"] == pytest.approx(0.0003)
    assert rows["support"]["unpriced_tokens"] == 0
    research = rows["research"]
    assert (research["llm_calls"], research["tool_calls"], research["cost_usd"]) == (1, 1, 0.0)
    assert (research["unpriced_calls"], research["unpriced_tokens"]) == (1, 120)


def test_table_from_a_spool_by_model(tmp_path: Path) -> None:
    import time

    Spool(str(tmp_path)).add(_records(time.time()))
    result = _run("--spool", str(tmp_path), "--by", "model")
    assert result.exit_code == 0, result.output
    assert "gpt-4o-mini" in result.output and "acme-llm-7" in result.output and "tool:search" in result.output
    assert "1 LLM call(s) used a model with no known price" in result.output


def test_errors_name_the_bad_option(tmp_path: Path) -> None:
    assert "exactly one of" in _run().output
    bad_since = _run("--file", str(tmp_path / "x"), "--since", "yesterday")
    assert bad_since.exit_code == 2 and "--since: 'yesterday' is not a duration" in bad_since.output
    Spool(str(tmp_path)).close()
    for huge in ("99999999999999999999w", "9" * 400 + "s"):  # an SQLite overflow, an infinity
        too_long = _run("--spool", str(tmp_path), "--since", huge)
        assert too_long.exit_code == 2, too_long.output
        assert too_long.output.startswith(f"Error: --since: '{huge}' is too long a duration")
    missing = _run("--file", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "nope.jsonl: no such file" in missing.output
    assert "--by 'week'" in _run("--spool", str(tmp_path), "--by", "week").output
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    assert "bad.jsonl:1: not a JSON line" in _run("--file", str(tmp_path / "bad.jsonl")).output
