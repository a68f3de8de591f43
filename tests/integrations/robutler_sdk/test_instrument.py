"""SDK 0.2.0 agents instrumented in process, run in a fresh interpreter.

Importing the SDK reconfigures a dozen loggers (uvicorn's, urllib3's, LiteLLM's), which
would leak into every later test of this run; so ``sdk_instrument_checks.py`` runs in
its own pytest process and this test reports its outcome.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHECKS = Path(__file__).with_name("sdk_instrument_checks.py")


@pytest.mark.slow
def test_sdk_instrumentation_checks_pass_in_a_fresh_process() -> None:
    if importlib.util.find_spec("robutler") is None:  # importorskip would import the SDK here
        pytest.skip("the sdk extra is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--noconftest", "-q", str(CHECKS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
