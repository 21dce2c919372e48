"""Helpers to run the real ``tomodachi`` command in a subprocess (``python -m tomodachi``).

``spawn`` and ``write`` (long-running processes, files in *tmp_path*) are in ``tests/conftest.py``;
``ServiceProcess`` and ``cli_env`` in ``tests/_support.py``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests._support import SRC, TIMEOUT, cli_env


@pytest.fixture
def src_dir() -> str:
    """The ``src`` directory of the package under test (put on PYTHONPATH of subprocesses)."""
    return SRC


@pytest.fixture
def cli_environ() -> dict[str, str]:
    """The environment subprocesses run with (see :func:`cli_env`)."""
    return cli_env()


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m tomodachi *args`` to completion in *tmp_path*."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tomodachi", *args],
            cwd=tmp_path,
            env=cli_env(**(env or {})),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
        )

    return run
