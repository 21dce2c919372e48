"""Importing tomodachi.logging stays cheap: no structlog, no aiohttp, no orjson until JSON is chosen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
HEAVY = ("structlog", "aiohttp", "orjson")


def run_python(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_import_does_not_load_heavy_modules() -> None:
    loaded = run_python(
        "import json, sys, tomodachi.logging\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    assert "structlog.dev" not in loaded
    assert loaded == []


def test_console_logging_does_not_load_heavy_modules() -> None:
    loaded = run_python(
        "import io, json, sys, logging, tomodachi.logging as t\n"
        "t.configure('console', stream=io.StringIO())\n"
        "t.get_logger('x').info('hello', a=1)\n"
        "logging.getLogger('y').warning('stdlib')\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    assert loaded == []


def test_orjson_is_imported_only_for_json_output() -> None:
    pytest.importorskip("orjson")
    loaded = run_python(
        "import io, json, sys, tomodachi.logging as t\n"
        "t.configure('json', stream=io.StringIO())\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    assert loaded == ["orjson", "orjson.orjson"] or loaded == ["orjson"]
