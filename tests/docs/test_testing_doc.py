"""docs/testing.md: the pytest configuration it shows is what a new project needs.

A fresh project in a temporary directory gets the documented ``[tool.pytest.ini_options]``, a
service file at its root and the page's sheep test and fixtures test in ``tests/``; pytest (this
environment's, warnings as errors, the working directory not on ``sys.path``) must pass both.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests._support import cli_env

from ._markdown import DOCS, ROOT, code_blocks

DOC = DOCS / "testing.md"

SERVICE = """\
import tomodachi


class Service(tomodachi.Service):
    name = "sheep-counter"
    count = 0

    @tomodachi.http("POST", r"/sheep")
    async def add(self, request):
        self.count += 1
        return 200, str(self.count)

    @tomodachi.http("GET", r"/sheep")
    async def get(self, request):
        return 200, str(self.count)
"""


def _documented_config() -> str:
    (block,) = [block for block in code_blocks(DOC) if block.lang == "toml"]
    return block.source


def _documented_tests() -> str:
    blocks = [block.source for block in code_blocks(DOC) if block.lang == "python"]
    (sheep,) = [source for source in blocks if "async def test_counting_sheep" in source]
    (fixtures,) = [source for source in blocks if "tomodachi_services" in source and "manual_clock" in source]
    sheep = sheep.replace(
        "from examples.sheep.app import Service as Sheep", "from app import Service as Sheep"
    )
    assert "from app import" in sheep, "the sheep example no longer imports the service as the test expects"
    return f"{sheep}\n\n{fixtures}"


def test_the_documented_config_is_the_projects_own() -> None:
    documented = tomllib.loads(_documented_config())["tool"]["pytest"]["ini_options"]
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
        "ini_options"
    ]
    assert documented["asyncio_mode"] == ours["asyncio_mode"] == "auto"
    assert documented["asyncio_default_fixture_loop_scope"] == ours["asyncio_default_fixture_loop_scope"]


def test_a_new_project_with_the_documented_config_runs_the_documented_tests(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "new-project"\nversion = "0"\n\n' + _documented_config()
    )
    (tmp_path / "app.py").write_text(SERVICE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text(_documented_tests())
    env = {key: value for key, value in cli_env().items() if not key.startswith("PYTEST")}
    # -P: the working directory is not put on sys.path, as with the `pytest` command.
    result = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert re.search(r"\b2 passed\b", result.stdout), result.stdout + result.stderr
