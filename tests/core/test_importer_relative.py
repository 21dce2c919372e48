"""Service files with relative imports in a directory without ``__init__.py``.

The original loads ``services/relative_service.py`` doing ``from .relative_import.import_file
import noop`` although ``services/`` is not a package; so must we, without running the file twice,
without shadowing a module of the same name, and still refusing a file that shadows the stdlib.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tomodachi.importer import ServiceFileError, import_service_file, service_classes

Spawn = Callable[..., Any]

RELATIVE_SERVICE = """
    import tomodachi

    from .relative_import.import_file import noop
    from . import sibling

    print("executing", __name__)


    class RelativeService(tomodachi.Service):
        name = "relative"

        async def _started_service(self):
            noop()
            sibling.hello()
            tomodachi.exit()
"""

IMPORT_FILE = """
    def noop():
        print("noop called")
"""

SIBLING = """
    def hello():
        print("sibling says hello")
"""


def _tree(root: Path, directory: str, *, subpackage_init: bool, service: str = RELATIVE_SERVICE) -> Path:
    """``<directory>/relative_service.py`` + ``sibling.py`` + ``relative_import/import_file.py``."""
    base = root / directory
    (base / "relative_import").mkdir(parents=True)
    if subpackage_init:
        (base / "relative_import" / "__init__.py").write_text("")
    (base / "relative_import" / "import_file.py").write_text(textwrap.dedent(IMPORT_FILE))
    (base / "sibling.py").write_text(textwrap.dedent(SIBLING))
    (base / "relative_service.py").write_text(textwrap.dedent(service))
    return base / "relative_service.py"


@pytest.fixture
def clean_imports() -> Iterator[None]:
    """Forget modules and ``sys.path`` entries added by in-process imports of service files."""
    modules = set(sys.modules)
    path = list(sys.path)
    yield
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path


# -- through a real `tomodachi run` ----------------------------------------------------------


@pytest.mark.parametrize("subpackage_init", [True, False], ids=["subpackage", "namespace-subpackage"])
@pytest.mark.parametrize("suffix", [".py", ""], ids=["with-py", "without-py"])
def test_tomodachi_run_relative_imports(
    spawn: Spawn, tmp_path: Path, subpackage_init: bool, suffix: str
) -> None:
    _tree(tmp_path, "services", subpackage_init=subpackage_init)
    assert not (tmp_path / "services" / "__init__.py").exists()
    process = spawn("run", "--production", f"services/relative_service{suffix}")
    assert process.wait() == 0, process.stderr
    expected = ["executing services.relative_service", "noop called", "sibling says hello"]
    assert process.stdout_lines == expected
    assert "relative import" not in process.stderr


def test_tomodachi_run_two_same_named_dirs_and_a_stdlib_named_dir(spawn: Spawn, tmp_path: Path) -> None:
    """``a/services`` and ``b/services`` load apart; a directory named ``json`` does not shadow json."""
    json_service = RELATIVE_SERVICE.replace(
        "import tomodachi\n", "import json\n\n    import tomodachi\n"
    ).replace("noop()\n", "noop()\n            print(json.dumps({'stdlib': True}))\n")
    _tree(tmp_path / "a", "services", subpackage_init=False)
    _tree(tmp_path / "b", "services", subpackage_init=True)
    _tree(tmp_path, "json", subpackage_init=False, service=json_service)
    process = spawn(
        "run",
        "--production",
        "a/services/relative_service.py",
        "b/services/relative_service.py",
        "json/relative_service.py",
    )
    assert process.wait() == 0, process.stderr
    executed = [line for line in process.stdout_lines if line.startswith("executing")]
    assert len(executed) == 3 and len(set(executed)) == 3, process.stdout
    assert process.stdout_lines.count("noop called") == 3
    assert json.dumps({"stdlib": True}) in process.stdout_lines


def test_tomodachi_run_stdlib_named_file_still_errors(spawn: Spawn, tmp_path: Path) -> None:
    (tmp_path / "services" / "os").mkdir(parents=True)
    (tmp_path / "services" / "os" / "os.py").write_text("from . import helpers\n")
    process = spawn("run", "--production", "services/os/os.py")
    assert process.wait() == 1
    assert "shadows the standard library" in process.stderr
    assert "Traceback" not in process.stderr


# -- in-process ------------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_imports")
def test_module_code_runs_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    service = _tree(tmp_path, "once", subpackage_init=False)
    module = import_service_file(str(service))
    assert capsys.readouterr().out == "executing once.relative_service\n"
    assert module.__name__ == "once.relative_service"
    assert module.__package__ == "once"
    assert [c.__name__ for c in service_classes(module)] == ["RelativeService"]
    # Importing the same file again (with or without .py) returns the loaded module.
    assert import_service_file(str(service)[:-3]) is module
    assert capsys.readouterr().out == ""


@pytest.mark.usefixtures("clean_imports")
def test_dir_name_taken_by_another_module_gets_a_unique_package(tmp_path: Path) -> None:
    """A directory named like a loaded module (here ``pytest``) must not replace that module."""
    service = _tree(tmp_path, "pytest", subpackage_init=False)
    module = import_service_file(str(service))
    assert sys.modules["pytest"] is pytest
    assert module.__package__ is not None and module.__package__ != "pytest"
    assert module.noop.__module__ == f"{module.__package__}.relative_import.import_file"


@pytest.mark.usefixtures("clean_imports")
def test_file_without_relative_imports_is_unchanged(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "plain_service.py").write_text("VALUE = 1\n")
    module = import_service_file(str(tmp_path / "plain" / "plain_service.py"))
    assert module.__name__ == "plain_service"
    assert "plain" not in sys.modules


@pytest.mark.usefixtures("clean_imports")
def test_missing_relative_module_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "app.py").write_text("from .missing import thing\n")
    with pytest.raises(ServiceFileError, match=r"broken\.missing"):
        import_service_file(str(tmp_path / "broken" / "app.py"))
    assert not any(name == "broken" or name.startswith("broken.") for name in sys.modules)
