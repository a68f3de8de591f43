"""Error lines print their text verbatim: brackets are text, not console markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from robutler_monitoring.host.cli import main


def test_brackets_in_an_error_are_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "robutler.yaml"
    config.write_text('monitoring:\n  tracing:\n    jaeger_endpoint: "[tracing]"\n')
    assert main(["serve", "--config", str(config)]) == 2  # refused before anything starts
    assert "'[tracing]'" in capsys.readouterr().err
