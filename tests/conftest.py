"""Fixtures shared by several test directories.

- ``wait_until``: poll a condition with a deadline (also importable: ``from _support import wait_until``);
- ``json_logs``: tomodachi logging as JSON on (captured) stderr, parsed;
- ``write`` / ``spawn``: files in *tmp_path* and ``python -m tomodachi`` subprocesses run there.

Helpers that test modules import live in ``_support.py`` (a unique module name; every directory's
conftest is imported as ``conftest``, so ``from conftest import ...`` could get another one).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import _support
import tomodachi.logging as tlog


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    """``await wait_until(lambda: condition, within=10.0, what="...")``: poll with a deadline."""
    return _support.wait_until


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Switch tomodachi logging to JSON on stderr; call the fixture to get the records so far."""
    tlog.configure("json", "info")
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        for line in capsys.readouterr().err.splitlines():
            line = line.strip()
            if line.startswith("{"):
                seen.append(json.loads(line))
        return list(seen)

    yield read
    tlog.remove_handlers()
    tlog.reset_context()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a (dedented) file into *tmp_path* and return its path."""

    def write_file(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., _support.ServiceProcess]]:
    """Start ``python -m tomodachi *args`` in *tmp_path*; every process is killed at teardown.

    ``spawn(*args, env={...})``: *env* is added to the clean environment of :func:`_support.cli_env`.
    """
    started: list[_support.ServiceProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> _support.ServiceProcess:
        process = _support.ServiceProcess(list(args), tmp_path, _support.cli_env(**(env or {})))
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()
