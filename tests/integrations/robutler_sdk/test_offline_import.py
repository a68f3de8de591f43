"""Importing the SDK through us never reaches for the network (LiteLLM's price list fetch at import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.offline import OFFLINE_IMPORT
from tests.support.sdk import sdk_installed

pytestmark = pytest.mark.skipif(not sdk_installed(), reason="the sdk extra is not installed")


@pytest.mark.slow
@pytest.mark.parametrize(
    "module",
    ["robutler.monitoring", "robutler.__main__", "robutler_monitoring.integrations.robutler_sdk.serving"],
)
def test_import_sets_the_local_cost_map_before_litellm(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    code = OFFLINE_IMPORT.format(module=module)
    if module.endswith(".serving"):  # ours imports the SDK only when serving it
        code = code.replace(f"import {module}\n", f"import {module} as m\nm.sdk_app([])\n")
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads(ran.stdout.splitlines()[-1])
    assert result == {"cost_map_env": "True", "litellm": True, "reached": []}, ran.stderr[-3000:]
