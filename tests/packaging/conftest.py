"""One kit per session: a source copy, a wheelhouse and a shared site for fresh venvs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.venvs import Kit, RegistryUnavailable, make_kit

CHECKOUT = Path(__file__).resolve().parents[2]
SDK = "robutler==0.2.0"  # the version the `sdk` extra pins


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    try:
        return make_kit(tmp_path_factory.mktemp("packaging"), CHECKOUT, SDK)
    except RegistryUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot prepare the packaging kit (no package registry?): {exc}")
