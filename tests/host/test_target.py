"""TARGET loading: every form, and one clear error for each mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from robutler_monitoring.host.target import TargetError, load_target


def _write(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture
def appfile(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "myapp.py",
        """
        async def app(scope, receive, send):
            pass

        class Wrapper:
            async def __call__(self, scope, receive, send):
                pass

        wrapped = Wrapper()

        def make():
            return app

        number = 42

        def boom():
            raise RuntimeError("no database")
        """,
    )


def test_file_target_loads_coroutine_app(appfile: Path) -> None:
    app = load_target(f"{appfile}:app")
    assert app.__name__ == "app"


def test_module_target_uses_app_dir(appfile: Path) -> None:
    assert type(load_target("myapp:wrapped", app_dir=str(appfile.parent))).__name__ == "Wrapper"


def test_factory_is_called(appfile: Path) -> None:
    assert load_target(f"{appfile}:make", factory=True).__name__ == "app"


@pytest.mark.parametrize(
    ("target", "factory", "expected"),
    [
        ("nosuchmodule_xyz:app", False, "no module named 'nosuchmodule_xyz'"),
        ("{file}:missing", False, "has no attribute 'missing'"),
        ("{file}:number", False, "is an int, not an ASGI app"),
        ("{file}:make", False, "add --factory"),
        ("{file}:number", True, "is not callable"),
        ("{file}:boom", True, "the factory raised RuntimeError: no database"),
        ("{file}", False, "is not of the form 'module:attribute'"),
        ("{dir}/absent.py:app", False, "does not exist"),
    ],
)
def test_bad_targets_name_the_problem(appfile: Path, target: str, factory: bool, expected: str) -> None:
    spec = target.format(file=appfile, dir=appfile.parent)
    with pytest.raises(TargetError) as err:
        load_target(spec, factory=factory)
    assert expected in str(err.value)
    assert spec in str(err.value) or "TARGET" in str(err.value)


def test_module_that_fails_to_import_says_so(tmp_path: Path) -> None:
    _write(tmp_path / "broken_mod.py", "import nosuchdependency_xyz\n")
    with pytest.raises(TargetError, match="importing 'broken_mod' failed: ModuleNotFoundError"):
        load_target("broken_mod:app", app_dir=str(tmp_path))


def test_exit_code_2_for_bad_input_1_when_the_targets_own_code_fails(appfile: Path, tmp_path: Path) -> None:
    _write(tmp_path / "raises_mod.py", "raise RuntimeError('no database')\n")
    codes = {}
    for spec, factory in [
        ("nosuchmodule_xyz:app", False),
        (f"{appfile}:missing", False),
        (f"{appfile}:number", False),
        ("raises_mod:app", False),
        (f"{appfile}:boom", True),
    ]:
        with pytest.raises(TargetError) as err:
            load_target(spec, factory=factory, app_dir=str(tmp_path))
        codes[spec.rsplit(":", 1)[1] if "raises" not in spec else "raises"] = err.value.exit_code
    assert codes == {"app": 2, "missing": 2, "number": 2, "raises": 1, "boom": 1}
