"""Fixtures shared by several test directories.

- ``wait_until``: poll a condition with a deadline (also ``from tests._support import wait_until``);
- ``json_logs``: tomodachi logging as JSON on (captured) stderr, parsed;
- ``write`` / ``spawn``: files in *tmp_path* and ``python -m tomodachi`` subprocesses run there.

Helpers that test modules import live in ``_support.py`` (``from tests._support import ...``).

Real-broker tests carry the marker of their broker (``rabbitmq``, ``aws``); they are skipped only
when the environment variable of :data:`tests._support.BROKERS` says the broker is absent, and
fail otherwise when it cannot be reached. The contract suite's real-broker backends are plugins
(``pytest_plugins`` below; a plugin must be registered in this top-level conftest).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tomodachi.logging as tlog
from tests import _support

pytest_plugins = [
    "tests.contract._backend_rabbitmq",
    "tests.contract._backend_aws",
    "tests.contract._backend_redis",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the tests of a broker that an environment variable says is absent (see ``BROKERS``)."""
    for marker in _support.BROKERS:
        if reason := _support.broker_absent(marker):
            for item in items:
                if item.get_closest_marker(marker):
                    item.add_marker(pytest.mark.skip(reason=reason))


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
