"""Rendering for `config show`: every leaf with its source, and no secret ever printed."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from robutler_monitoring.plugin.config import ConfigError, ResolvedConfig, load_config
from robutler_monitoring.plugin.config.masking import mask_url
from robutler_monitoring.plugin.config.show import render_json, render_table, render_yaml, rows

SECRETS = ("hunter2", "t0ken-abc", "webhook-pass", "qs-secret", "bearer-xyz", "x-auth-value")


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
                      X-Auth: x-auth-value
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
    assert table["alerts.webhooks.0.headers.X-Team"][0] == "***"  # a header's name, never its value
    assert set(table) == set(resolved.sources)


def test_no_format_prints_a_secret(tmp_path: Path) -> None:
    resolved = _resolved(tmp_path)
    outputs = [_table_text(resolved), render_json(resolved), render_yaml(resolved)]
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output
    document = json.loads(outputs[1])
    hook = document["monitoring"]["alerts"]["webhooks"][0]
    assert hook["url"] == "https://hook:***@hooks.example.com/***"  # a webhook's path is its secret
    # any header may carry a credential (`X-Auth` is no secret word): names only
    assert hook["headers"] == {"Authorization": "***", "X-Auth": "***", "X-Team": "***"}
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
    assert set(again.alerts.webhooks[0].headers) == {"Authorization", "X-Auth", "X-Team"}
    assert yaml.safe_load(text)["monitoring"]["alerts"]["email"]["password"] == "***"


def test_mask_url() -> None:
    assert mask_url("https://user:pass@host:8080/p") == "https://user:***@host:8080/p"
    assert mask_url("https://tok@host/p") == "https://***@host/p"
    assert mask_url("http://host/p?api_key=1&x=2") == "http://host/p?api_key=***&x=2"
    assert mask_url("http://host/p?x=2") == "http://host/p?x=2"
    assert mask_url("not a url") == "not a url"


WEBHOOKS = """
monitoring:
  alerts:
    webhooks:
      - url: https://hooks.slack.com/services/T0001/B0002/SuperSecretXyz123
      - url: https://discord.com/api/webhooks/123/tokenTOKENtoken
      - url: https://outlook.office.com:8443/webhookb2/abc-guid@def/IncomingWebhook/ghi/jkl
  tracing:
    jaeger_endpoint: http://collector:14268/api/traces?api-key=abc-jaeger&format=proto
"""


@pytest.mark.parametrize("fmt", ["table", "yaml", "json"])
def test_webhook_urls_show_only_scheme_and_host(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_text(WEBHOOKS, encoding="utf-8")
    resolved = load_config(path, env={})
    render = {"table": _table_text, "yaml": render_yaml, "json": render_json}[fmt]
    output = render(resolved)
    for secret in ("T0001", "B0002", "SuperSecretXyz123", "123/token", "TOKENtoken", "webhookb2", "abc-guid",
                   "IncomingWebhook", "abc-jaeger"):  # fmt: skip
        assert secret not in output, (fmt, secret)
    for shown in ("https://hooks.slack.com/***", "https://discord.com/***", "https://outlook.office.com:8443/***",
                  "http://collector:14268/api/traces?api-key=***&format=proto"):  # fmt: skip
        assert shown in output, (fmt, shown)


def test_a_bad_webhook_url_error_names_the_host_but_not_the_path(tmp_path: Path) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_text(
        "monitoring:\n  alerts:\n    webhooks:\n      - url: hooks.slack.com/services/T0/B0/Sec\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert "monitoring.alerts.webhooks.0.url = 'hooks.slack.com/***'" in message
    assert "Sec" not in message


@pytest.mark.parametrize("fmt", ["table", "yaml", "json"])
def test_values_from_env_references_show_the_reference(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_text(
        "monitoring:\n  tracing:\n    service_name: ${SMTP_PASSWORD}\n"
        '  alerts:\n    email:\n      smtp_port: "${PORT:-25}"\n',
        encoding="utf-8",
    )
    resolved = load_config(path, env={"SMTP_PASSWORD": "pw-in-wrong-key", "PORT": "2525"})
    assert resolved.config.tracing.service_name == "pw-in-wrong-key"
    output = {"table": _table_text, "yaml": render_yaml, "json": render_json}[fmt](resolved)
    assert "pw-in-wrong-key" not in output and "2525" not in output
    assert "${SMTP_PASSWORD}" in output and "${PORT:-25}" in output
    if fmt == "yaml":  # still a config file that reads the same variables
        reread = tmp_path / "reread.yaml"
        reread.write_text(output, encoding="utf-8")
        again = load_config(reread, env={"SMTP_PASSWORD": "pw-in-wrong-key", "PORT": "2525"}).config
        assert again.tracing.service_name == "pw-in-wrong-key" and again.alerts.email.smtp_port == 2525
