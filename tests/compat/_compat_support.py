"""Run the compatibility corpus (``tests/compat/services/*.py``) through real ``tomodachi run`` processes.

The corpus services are written the way users of the original tomodachi write them. They report
what they observed on stdout, one line each: ``COMPAT {"event": "...", ...}`` (JSON). A test
starts a service file, optionally talks to it (HTTP, signals), waits for it to end and asserts on
its exit code, its reports and its log lines.

Processes are asyncio subprocesses, so a test can run several at once (``asyncio.gather``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests._support import ServiceProcess, cli_env

SERVICES = Path(__file__).resolve().parent / "services"
PREFIX = "COMPAT "
#: Seconds a corpus service may take from start to exit (they stop themselves much sooner).
TIMEOUT = 25.0


@dataclass(frozen=True)
class Backend:
    """How to run a corpus service against one broker: ``--message-broker`` and environment."""

    name: str
    broker: str | None
    env: dict[str, str] = field(default_factory=dict)


def unique(tag: str = "c") -> str:
    """A short name part unique to one test run (queues, topics, routing keys)."""
    return f"{tag}{uuid.uuid4().hex[:10]}"


@dataclass
class Result:
    """What a finished (or killed) service process left behind."""

    returncode: int | None
    stdout_lines: list[str]
    stderr_lines: list[str]
    timed_out: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    def describe(self) -> str:
        state = "timed out (killed)" if self.timed_out else f"exit code {self.returncode}"
        return f"{state}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    def event(self, kind: str) -> dict[str, Any]:
        """The first report of *kind*; fails with the process output when there is none."""
        found = self.all(kind)
        if not found:
            raise AssertionError(f"no {kind!r} report from the service; {self.describe()}")
        return found[0]

    def has(self, kind: str) -> bool:
        return bool(self.all(kind))

    def logged(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in self.stderr_lines)


class ServiceRun:
    """A running ``python -m tomodachi run --production ...`` process."""

    def __init__(self, proc: asyncio.subprocess.Process, timeout: float) -> None:
        self.proc = proc
        self.deadline = time.monotonic() + timeout
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._readers = [
            asyncio.create_task(self._pump(proc.stdout, self.stdout_lines)),
            asyncio.create_task(self._pump(proc.stderr, self.stderr_lines)),
        ]

    async def _pump(self, stream: asyncio.StreamReader | None, lines: list[str]) -> None:
        assert stream is not None
        while True:
            raw = await stream.readline()
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if line.startswith(PREFIX):
                with contextlib.suppress(ValueError):
                    self.events.append(json.loads(line[len(PREFIX) :]))
            self._changed.set()
        self._changed.set()

    def _result(self, timed_out: bool = False) -> Result:
        return Result(
            self.proc.returncode,
            list(self.stdout_lines),
            list(self.stderr_lines),
            timed_out,
            list(self.events),
        )

    async def wait_event(self, kind: str, within: float | None = None) -> dict[str, Any]:
        """Wait for the first ``COMPAT`` report of *kind* (fails if the process ends first)."""
        deadline = min(self.deadline, time.monotonic() + within) if within else self.deadline
        while True:
            for event in self.events:
                if event.get("event") == kind:
                    return event
            if self.proc.returncode is not None and all(r.done() for r in self._readers):
                raise AssertionError(
                    f"the service ended before reporting {kind!r}; {self._result().describe()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {kind!r}; {self._result(True).describe()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    async def wait_log(self, pattern: str, within: float | None = None) -> str:
        """Wait for a stderr line matching *pattern*."""
        regex = re.compile(pattern)
        deadline = min(self.deadline, time.monotonic() + within) if within else self.deadline
        while True:
            for line in self.stderr_lines:
                if regex.search(line):
                    return line
            if self.proc.returncode is not None and all(r.done() for r in self._readers):
                raise AssertionError(
                    f"the service ended before logging {pattern!r}; {self._result().describe()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {pattern!r}; {self._result(True).describe()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    def send(self, signum: int = signal.SIGTERM) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signum)

    async def finish(self, within: float | None = None) -> Result:
        """Wait for the process to end by itself; kill it at the deadline (``timed_out``)."""
        remaining = max(0.1, self.deadline - time.monotonic()) if within is None else within
        timed_out = False
        try:
            await asyncio.wait_for(self.proc.wait(), remaining)
        except TimeoutError:
            timed_out = True
            self.kill()
            await self.proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self._close_transport()
        return self._result(timed_out)

    def _close_transport(self) -> None:
        # asyncio leaves a finished subprocess's transport open; once its event loop is closed,
        # the transport's __del__ would fail ("Event loop is closed"), so close it while it runs.
        transport = getattr(self.proc, "_transport", None)
        if transport is not None:
            transport.close()

    async def stop(self, signum: int = signal.SIGTERM, within: float = 15.0) -> Result:
        self.send(signum)
        return await self.finish(within)

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def aclose(self) -> None:
        """Kill the process if it still runs, reap it and release its pipes."""
        self.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10)
        await asyncio.gather(*self._readers, return_exceptions=True)
        self._close_transport()


def command(*files: str | Path, broker: str | None = None, args: Sequence[str] = ()) -> list[str]:
    argv = [sys.executable, "-m", "tomodachi", "run", "--production"]
    if broker:
        argv += ["--message-broker", broker]
    argv += [*args]
    # files are relative to services/ (or absolute); "-c config.json" style flags pass through
    argv += [str(f) if os.path.isabs(str(f)) or str(f).startswith("-") else str(SERVICES / f) for f in files]
    return argv


async def start(
    *files: str | Path,
    broker: str | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    deadline: float = TIMEOUT,
    argv: Sequence[str] | None = None,
    cwd: str | Path | None = None,
) -> ServiceRun:
    """Start the corpus service *files* (names relative to ``services/``, or absolute paths).

    *broker* ``"memory"`` adds ``--message-broker memory``; *argv* replaces the whole command.
    """
    proc = await asyncio.create_subprocess_exec(
        *(argv or command(*files, broker=broker, args=args)),
        cwd=str(cwd or SERVICES),
        env=cli_env(**(env or {})),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return ServiceRun(proc, deadline)


async def run(*files: str | Path, **kwargs: Any) -> Result:
    """Start the service *files* and wait until they stop by themselves (see :func:`start`)."""
    process = await start(*files, **kwargs)
    try:
        return await process.finish()
    finally:
        await process.aclose()


class Corpus:
    """Corpus runs started together in a background event loop; tests wait for theirs.

    ``Corpus({(file, backend name): Backend})`` is a context manager: entering starts every run,
    leaving kills what is still running. ``result(file, backend)`` waits for one run.
    """

    def __init__(self, runs: dict[tuple[str, str], Backend]) -> None:
        self.runs = runs
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="compat-corpus", daemon=True)
        self.futures: dict[tuple[str, str], concurrent.futures.Future[Result]] = {}

    def __enter__(self) -> Corpus:
        self.thread.start()
        for (file, name), backend in self.runs.items():
            coroutine = run(*file.split(), broker=backend.broker, env=backend.env)
            self.futures[(file, name)] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return self

    @staticmethod
    async def _cancel_all() -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def result(self, file: str, backend: Backend | None = None) -> Result:
        """The run of *file* (space-separated files for one run of several) on *backend*."""
        future = self.futures.get((file, backend.name if backend else "plain"))
        if future is None:
            on = backend.name if backend else "plain"
            raise KeyError(f"{file} on {on} is not a shared corpus run (see SHARED_RUNS)")
        return future.result(timeout=TIMEOUT + 15)

    def __exit__(self, *exc_info: object) -> None:
        # Runs still going (their tests were deselected) are cancelled: run() kills and reaps them.
        asyncio.run_coroutine_threadsafe(self._cancel_all(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=15)
        self.loop.close()


class LiveService:
    """A corpus service kept running across the tests of a module (sync; threads read its output).

    ``LiveService.start(file, ...)``, ``wait_event(kind)``, then ``stop()`` -> :class:`Result`.
    """

    def __init__(self, process: ServiceProcess) -> None:
        self.process = process

    @classmethod
    def start(
        cls, *files: str | Path, broker: str | None = None, env: dict[str, str] | None = None
    ) -> LiveService:
        args = command(*files, broker=broker)[3:]  # after "python -m tomodachi"
        return cls(ServiceProcess(args, SERVICES, cli_env(**(env or {}))))

    @property
    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in list(self.process.stdout_lines):
            if line.startswith(PREFIX):
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line[len(PREFIX) :]))
        return found

    def wait_event(self, kind: str, count: int = 1, within: float = TIMEOUT) -> list[dict[str, Any]]:
        """Wait until *count* reports of *kind* arrived; return them."""
        deadline = time.monotonic() + within
        while True:
            found = [e for e in self.events if e.get("event") == kind]
            if len(found) >= count:
                return found
            if self.process.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {count} x {kind!r} report; {self.result().describe()}")
            time.sleep(0.01)

    def result(self, timed_out: bool = False) -> Result:
        return Result(
            self.process.proc.returncode,
            list(self.process.stdout_lines),
            list(self.process.stderr_lines),
            timed_out,
            self.events,
        )

    def stop(self, signum: int = signal.SIGTERM, within: float = 15.0) -> Result:
        """Send *signum*, wait for the exit (kill at the deadline) and return what it left."""
        if self.process.proc.poll() is None:
            self.process.send(signum)
        try:
            self.process.wait(timeout=within)
            timed_out = False
        except Exception:
            timed_out = True
            self.process.kill()
        return self.result(timed_out)
