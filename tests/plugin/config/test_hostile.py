"""Hostile or broken config input: a clear problem (exit 2), never a hang, a crash or a leak."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from robutler_monitoring.plugin.config import ConfigError, load_config
from robutler_monitoring.plugin.config.errors import MAX_SHOWN
from robutler_monitoring.plugin.config.schema import MonitoringConfig
from robutler_monitoring.plugin.config.yamlsource import MAX_ALIASES, MAX_EXPANDED, parse_yaml

# nine levels of nine aliases: 387,420,489 strings once expanded, from 500 bytes
_LEVELS = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
    f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)
]
BOMB = "monitoring:\n  extra:\n" + "".join(f"    {line}\n" for line in _LEVELS)
FLOW_BOMB = "{" + ", ".join(_LEVELS) + "}"
MERGE_BOMB = "monitoring:\n  x0: &x0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}\n" + "".join(
    f"  x{i}: &x{i} {{<<: [{', '.join([f'*x{i - 1}'] * 9)}]}}\n" for i in range(1, 10)
)


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "robutler.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path | None, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return [str(p) for p in info.value.problems]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", [BOMB, MERGE_BOMB], ids=["aliases", "merge-keys"])
def test_an_alias_bomb_is_refused_cheaply(tmp_path: Path, text: str) -> None:
    tracemalloc.start()
    try:
        problems = _problems(_write(tmp_path, text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [problem] = problems
    assert problem.startswith(f"{tmp_path / 'robutler.yaml'}:")
    assert f"expand to more than {MAX_EXPANDED:,} values" in problem
    assert peak < 20 * 2**20  # bounded: the expansion is never built


@pytest.mark.timeout(60)
def test_an_alias_bomb_in_an_environment_variable_is_refused() -> None:
    variable = "ROBUTLER_MONITORING__LOGGING__ACCESS_LOG_SKIP_PATHS"
    [problem] = _problems(None, {variable: FLOW_BOMB})
    assert problem.startswith(f"env {variable}: ")
    assert "expand to more than" in problem


def test_aliases_within_the_bounds_still_work(tmp_path: Path) -> None:
    text = """
monitoring:
  logging:
    access_log_skip_paths: &skip ["/health", "/metrics"]
  alerts:
    webhooks:
      - &hook {url: "https://a.example.com", headers: {X-A: "1"}}
      - <<: *hook
        url: "https://b.example.com"
"""
    cfg = load_config(_write(tmp_path, text), env={}).config
    assert cfg.logging.access_log_skip_paths == ("/health", "/metrics")
    assert [h.url for h in cfg.alerts.webhooks] == ["https://a.example.com", "https://b.example.com"]
    assert cfg.alerts.webhooks[1].headers == {"X-A": "1"}


def test_a_nul_byte_is_a_syntax_error_with_its_place(tmp_path: Path) -> None:
    [problem] = _problems(_write(tmp_path, b"monitoring:\n  enabled: tr\x00ue\n"))
    assert (
        problem
        == f"{tmp_path / 'robutler.yaml'}:2:14: YAML syntax error: control character U+0000 is not allowed"
    )


@pytest.mark.parametrize("opening", ["[", "{a: "], ids=["lists", "mappings"])
def test_deep_nesting_is_refused(tmp_path: Path, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    [problem] = _problems(
        _write(tmp_path, "monitoring:\n  x: " + opening * 5000 + "1" + closing * 5000 + "\n")
    )
    assert "YAML syntax error" in problem and "nest" in problem


def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    text = "monitoring:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(5000))
    [problem] = _problems(_write(tmp_path, text))
    assert "nested deeper than" in problem


def test_an_integer_too_long_to_read(tmp_path: Path) -> None:
    digits = "9" * 5000
    [problem] = _problems(_write(tmp_path, f"monitoring:\n  metrics:\n    collect_interval: {digits}\n"))
    assert problem == (
        f"{tmp_path / 'robutler.yaml'}:3: monitoring.metrics.collect_interval: "
        "a whole number of 5,000 digits is too long to read"
    )
    [problem] = _problems(None, {"ROBUTLER_MONITORING__METRICS__COLLECT_INTERVAL": digits})
    assert problem.startswith("env ROBUTLER_MONITORING__METRICS__COLLECT_INTERVAL: ")
    assert "5,000 digits" in problem


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object:os.system\n    enabled: true", "!!python/object:os.system"),
        ("!!python/object/apply:os.system [echo]", "!!python/object/apply:os.system"),
        ("!custom {enabled: true}", "!custom"),
        ("!!set {a, b}", "!!set"),
    ],
)
def test_non_standard_tags_are_refused(tmp_path: Path, value: str, tag: str) -> None:
    [problem] = _problems(_write(tmp_path, f"monitoring:\n  metrics: {value}\n"))
    assert problem.startswith(f"{tmp_path / 'robutler.yaml'}:2: monitoring.metrics: ")
    assert f"unsupported YAML tag {tag!r}" in problem


def test_a_tag_in_an_environment_value_is_refused() -> None:
    variable = "ROBUTLER_MONITORING__LOGGING__ACCESS_LOG_SKIP_PATHS"
    [problem] = _problems(None, {variable: "!!python/object/apply:os.system [echo]"})
    assert problem.startswith(f"env {variable}: ") and "unsupported YAML tag" in problem


def test_standard_tags_are_read(tmp_path: Path) -> None:
    text = "monitoring:\n  metrics: !!map\n    collect_interval: !!float 5\n    endpoint: !!str /prom\n"
    assert load_config(_write(tmp_path, text), env={}).config.metrics.collect_interval == 5.0


@pytest.mark.timeout(120)
def test_many_unknown_keys_are_summarised(tmp_path: Path) -> None:
    count = 5_000
    path = _write(tmp_path, "monitoring:\n" + "".join(f"  k{i}: 1\n" for i in range(count)))
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert len(info.value.problems) == count
    lines = info.value.report().splitlines()
    assert lines[0] == f"invalid configuration ({count:,} problems):"
    assert len(lines) == 1 + MAX_SHOWN + 1
    known = ", ".join(MonitoringConfig.model_fields)
    assert lines[1] == f"  {path}:2: monitoring.k0: unknown key; known keys: {known}"
    assert lines[-1] == f"  ... and {count - MAX_SHOWN:,} more"


def test_parse_yaml_reports_where_an_env_value_went_wrong() -> None:
    doc = parse_yaml("[1, 2", "env X", {}, with_lines=False)
    [problem] = doc.problems
    assert problem.source == "env X" and "column" in problem.message


def test_too_many_aliases_are_refused(tmp_path: Path) -> None:
    text = "monitoring:\n  x: &x 1\n  extra: [" + ", ".join(["*x"] * (MAX_ALIASES + 1)) + "]\n"
    [problem] = _problems(_write(tmp_path, text))
    assert f"more than {MAX_ALIASES} aliases" in problem and problem.startswith(
        f"{tmp_path / 'robutler.yaml'}:3:"
    )


def test_a_merge_key_needs_mappings(tmp_path: Path) -> None:
    text = "monitoring:\n  metrics:\n    <<: [1, 2]\n    endpoint: /prom\n"
    [problem] = _problems(_write(tmp_path, text))
    assert problem == (
        f"{tmp_path / 'robutler.yaml'}:3: monitoring.metrics: "
        "'<<' must be followed by a mapping or a list of mappings"
    )


def test_a_mapping_that_merges_itself_is_reported(tmp_path: Path) -> None:
    text = "monitoring:\n  metrics: &m\n    <<: *m\n    endpoint: /prom\n"
    problems = _problems(_write(tmp_path, text))
    assert any("refers to itself" in p for p in problems)
