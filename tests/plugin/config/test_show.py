"""Rendering for `config show`: every leaf with its source, and no secret ever printed."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import yaml
from rich.console import Console

from robutler_monitoring.plugin.config import ResolvedConfig, load_config
from robutler_monitoring.plugin.config.masking import mask_url
from robutler_monitoring.plugin.config.show import render_json, render_table, render_yaml, rows

SECRETS = ("hunter2", "t0ken-abc", "webhook-pass", "qs-secret", "bearer-xyz")


def _resolved(tmp_path: Path) -> ResolvedConfig:
    path = tmp_path / "robutler.yaml"
    path.write_text(
        textwrap.dedent(
            """
            monitoring:
              auth_token: "${TOKEN}"
              email:
                smtp_host: smtp.example.com
                password: hunter2
              alerts:
                webhooks:
                  - url: "https://hook:webhook-pass@hooks.example.com/x?token=qs-secret&team=ops"
                    headers:
                      Authorization: "Bearer bearer-xyz"
                      X-Team: ops
            """
        ).lstrip(),
        encoding="utf-8",
    )
    return load_config(path, env={"TOKEN": "t0ken-abc", "ROBUTLER_LOG_LEVEL": "debug"})


def _table_text(resolved: ResolvedConfig) -> str:
    out = io.StringIO()
    Console(width=200, file=out).print(render_table(resolved))
    return out.getvalue()


def test_rows_have_every_leaf_with_its_source(tmp_path: Path) -> None:
    resolved = _resolved(tmp_path)
    table = {key: (value, source) for key, value, source in rows(resolved)}
    assert table["logging.level"] == ("DEBUG", "env ROBUTLER_LOG_LEVEL")
    assert table["alerts.email.smtp_host"] == (
        "smtp.example.com",
        f"{tmp_path / 'robutler.yaml'}:4",
    )
    assert table["metrics.endpoint"] == ("/metrics", "default")
    assert table["alerts.webhooks.0.headers.X-Team"][0] == "ops"
    assert set(table) == set(resolved.sources)


def test_no_format_prints_a_secret(tmp_path: Path) -> None:
    resolved = _resolved(tmp_path)
    outputs = [_table_text(resolved), render_json(resolved), render_yaml(resolved)]
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output
    document = json.loads(outputs[1])
    hook = document["monitoring"]["alerts"]["webhooks"][0]
    assert hook["url"] == "https://hook:***@hooks.example.com/x?token=***&team=ops"
    assert hook["headers"] == {"Authorization": "***", "X-Team": "ops"}
    assert document["monitoring"]["auth_token"] == "***"
    assert document["monitoring"]["alerts"]["email"]["password"] == "***"


def test_table_shows_sources(tmp_path: Path) -> None:
    text = _table_text(_resolved(tmp_path))
    assert "env ROBUTLER_LOG_LEVEL" in text
    assert "logging.level" in text and "DEBUG" in text


def test_yaml_output_is_a_config_file_with_source_comments(tmp_path: Path) -> None:
    resolved = _resolved(tmp_path)
    text = render_yaml(resolved)
    assert 'level: "DEBUG"  # env ROBUTLER_LOG_LEVEL' in text
    reread = tmp_path / "reread.yaml"
    reread.write_text(text, encoding="utf-8")
    again = load_config(reread, env={}).config
    assert again.logging.level == "DEBUG"
    assert again.alerts.webhooks[0].headers["X-Team"] == "ops"
    assert yaml.safe_load(text)["monitoring"]["alerts"]["email"]["password"] == "***"


def test_mask_url() -> None:
    assert mask_url("https://user:pass@host:8080/p") == "https://user:***@host:8080/p"
    assert mask_url("https://tok@host/p") == "https://***@host/p"
    assert mask_url("http://host/p?api_key=1&x=2") == "http://host/p?api_key=***&x=2"
    assert mask_url("http://host/p?x=2") == "http://host/p?x=2"
    assert mask_url("not a url") == "not a url"
