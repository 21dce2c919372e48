"""Helpers shared by test modules in several directories: ``from tests._support import ...``.

Its name does not match ``test_*.py``, so it is not collected. The fixtures built on these
helpers are in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

#: The ``src`` directory of the package under test (put on PYTHONPATH of subprocesses).
SRC = str(Path(__file__).resolve().parents[1] / "src")
#: Seconds to wait for a subprocess (a line of output, its exit).
TIMEOUT = 30.0

#: Real brokers the tests talk to: marker -> (the environment variable that says the broker is
#: absent, what the broker is). A test marked with a broker's marker runs against it, and fails
#: when it cannot reach it - unless the variable is set (to anything but "", "0"), which skips it.
BROKERS: dict[str, tuple[str, str]] = {
    "rabbitmq": ("TOMODACHI_TEST_NO_RABBITMQ", "RabbitMQ at 127.0.0.1:5672"),
    "aws": ("TOMODACHI_TEST_NO_AWS", "moto server (AWS SNS, SQS, STS)"),
    "postgres": ("TOMODACHI_TEST_NO_POSTGRES", "PostgreSQL at 127.0.0.1:5432"),
    "redis": ("TOMODACHI_TEST_NO_REDIS", "Redis at 127.0.0.1:6379"),
}


def broker_absent(marker: str) -> str | None:
    """Why tests of the broker of *marker* are skipped, or None when they must run."""
    variable, what = BROKERS[marker]
    value = os.environ.get(variable, "")
    if value in ("", "0"):
        return None
    return f"{variable}={value}: no {what} on this machine"


async def wait_until(predicate: Callable[[], Any], within: float = 10.0, what: str = "condition") -> None:
    """Poll *predicate* until it is true; fail after *within* seconds naming *what* was awaited."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.005)


def cli_env(**extra: str) -> dict[str, str]:
    """A clean environment: no TOMODACHI_* / colour variables from the caller, our src first.

    Code reload is off (``TOMODACHI_RELOAD=0``): a test's services run in the process it
    started, and edits elsewhere in the working tree (PYTHONPATH is watched) cannot restart
    them. The reload tests (tests/cli/test_cli_reload.py) pass ``TOMODACHI_RELOAD`` or flags.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TOMODACHI_") and k not in ("NO_COLOR", "NOCOLOR", "PYTHONPATH")
    }
    env["PYTHONPATH"] = SRC
    env["PYTHONUNBUFFERED"] = "1"
    env["TOMODACHI_RELOAD"] = "0"
    env.update(extra)
    return env


class ServiceProcess:
    """A running ``tomodachi`` subprocess whose stdout/stderr lines are read by threads."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tomodachi", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._stderr_queue: queue.Queue[str | None] = queue.Queue()
        self._threads = [
            threading.Thread(
                target=self._pump, args=(self.proc.stdout, self.stdout_lines, None), daemon=True
            ),
            threading.Thread(
                target=self._pump, args=(self.proc.stderr, self.stderr_lines, self._stderr_queue), daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: IO[str] | None, lines: list[str], notify: queue.Queue[str | None] | None) -> None:
        assert stream is not None
        for line in stream:
            lines.append(line.rstrip("\n"))
            if notify is not None:
                notify.put(line)
        if notify is not None:
            notify.put(None)

    def wait_for_stderr(self, pattern: str, timeout: float = TIMEOUT) -> str:
        """Wait until a stderr line matches *pattern* (a regex); fail on timeout or exit."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        seen = 0
        while True:
            for line in self.stderr_lines[seen:]:
                seen += 1
                if regex.search(line):
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {pattern!r}; stderr:\n{self.stderr}")
            try:
                item = self._stderr_queue.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if item is None and not any(regex.search(x) for x in self.stderr_lines[seen:]):
                raise AssertionError(f"process ended before {pattern!r}; stderr:\n{self.stderr}")

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = TIMEOUT) -> int:
        code = self.proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        return code

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
