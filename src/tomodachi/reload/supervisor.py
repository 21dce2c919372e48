"""The reload supervisor: watch the project's files, run the services in a child process.

It imports neither the service files nor a transport library (only ``watchfiles`` and tomodachi's
logging), so it starts fast and a syntax error in a service cannot stop it.

* The child is ``python -m tomodachi <the same arguments>`` without ``--reload``/``--no-reload``,
  in the same working directory and environment, plus :data:`tomodachi.reload.CHILD_ENV`.
* A change (debounced: the watcher waits until no change came for :data:`QUIET_MS`) sends the
  child SIGTERM; once it has stopped gracefully (after its grace period plus
  :data:`KILL_MARGIN` seconds it is killed), a new child starts with the new code.
* SIGINT/SIGTERM to the supervisor are passed on to the child; the supervisor exits with the
  child's exit code once it has stopped.
* A child that exits on its own: before any change, the supervisor exits with its code (as
  ``--no-reload`` would); after a change, an exit with code 0 ends the run too, any other code is
  reported in one line and the supervisor waits for the next change to try again.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from tomodachi.reload import CHILD_ENV
from tomodachi.reload.filter import ChangeFilter, watch_roots

__all__ = ["KILL_MARGIN", "QUIET_MS", "RELOAD_FLAGS", "child_arguments", "start_watcher", "supervise"]

#: The watcher yields a batch of changes once no further change came for this many milliseconds.
QUIET_MS = 150
#: ... or at the latest after this many milliseconds of continuous changes.
MAX_BATCH_MS = 1_000
#: Seconds given to a child beyond its grace period before it is killed.
KILL_MARGIN = 5.0
#: The grace period assumed until the child reported its own (the default of the options).
DEFAULT_GRACE = 30.0
#: Flags of the supervisor that the child does not get.
RELOAD_FLAGS = ("--reload", "--no-reload")


def child_arguments(argv: Sequence[str]) -> list[str]:
    """*argv* (``run`` and what follows it) without the reload flags (which come before ``--``)."""
    result: list[str] = []
    files_only = False
    for arg in argv:
        if not files_only and arg in RELOAD_FLAGS:
            continue
        if arg == "--":
            files_only = True
        result.append(arg)
    return result


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


class _Child:
    def __init__(
        self,
        argv: Sequence[str],
        events: queue.SimpleQueue[tuple[str, Any]],
        generation: int,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env.update(extra_env or {})
        env[CHILD_ENV] = str(theirs.fileno())
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tomodachi", *argv], env=env, pass_fds=(theirs.fileno(),)
            )
        finally:
            theirs.close()
        self.sock = ours
        self.generation = generation
        self.grace: float | None = None
        self.stop_deadline: float | None = None
        self.started_at = time.monotonic()
        threading.Thread(target=self._wait, args=(events,), daemon=True, name="tomodachi.reload.wait").start()
        threading.Thread(target=self._read, args=(events,), daemon=True, name="tomodachi.reload.read").start()

    def _wait(self, events: queue.SimpleQueue[tuple[str, Any]]) -> None:
        events.put(("exit", (self.generation, self.proc.wait())))

    def _read(self, events: queue.SimpleQueue[tuple[str, Any]]) -> None:
        buffer = b""
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(65536):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    with contextlib.suppress(ValueError):
                        events.put(("report", (self.generation, json.loads(line))))

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signum)

    def stop(self) -> None:
        """SIGTERM now; killed when still running after its grace period and the margin."""
        if self.stop_deadline is None:
            grace = DEFAULT_GRACE if self.grace is None else self.grace
            self.stop_deadline = time.monotonic() + grace + KILL_MARGIN
        self.signal(signal.SIGTERM)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _describe(changes: Iterable[tuple[Any, str]]) -> str:
    cwd = os.getcwd()
    paths = sorted({path for _, path in changes})
    shown = []
    for path in paths[:3]:
        with contextlib.suppress(ValueError):
            relative = os.path.relpath(path, cwd)
            path = relative if not relative.startswith("..") else path
        shown.append(path)
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return ", ".join(shown) + more


def start_watcher(
    roots: Sequence[str],
    change_filter: ChangeFilter,
    events: queue.SimpleQueue[tuple[str, Any]],
    stop_event: threading.Event,
) -> None:
    """Watch *roots* in a daemon thread: ``("ready", None)`` once the watches are in place, then
    ``("changes", changes)`` per debounced batch, or ``("watch-failed", exc)``, into *events*."""
    import watchfiles

    def watch() -> None:
        ready = False
        try:
            for changes in watchfiles.watch(
                *roots,
                watch_filter=change_filter,
                debounce=MAX_BATCH_MS,
                step=QUIET_MS,
                stop_event=stop_event,
                rust_timeout=200,
                yield_on_timeout=True,
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                if not ready:  # the first timeout: the watches are in place
                    ready = True
                    events.put(("ready", None))
                if changes:
                    events.put(("changes", changes))
        except Exception as exc:  # the watcher cannot run: keep the services, say why once
            events.put(("watch-failed", exc))

    threading.Thread(target=watch, daemon=True, name="tomodachi.reload.watch").start()


def watch(
    files: Sequence[str],
    config_files: Sequence[str],
    events: queue.SimpleQueue[tuple[str, Any]],
    stop_watching: threading.Event,
) -> ChangeFilter:
    """Start watching the service files' and config files' directories (and what
    :func:`~.filter.watch_roots` adds); changes arrive in *events*. Returns the filter, which
    the services' reports update (``watcher.*`` options)."""
    import logging

    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # its own "N changes detected"
    roots = watch_roots(files, (os.path.dirname(os.path.abspath(p)) for p in config_files))
    always = [p if p.endswith(".py") or os.path.exists(p) else f"{p}.py" for p in files]
    change_filter = ChangeFilter(roots, always=[*always, *config_files])
    start_watcher(roots, change_filter, events, stop_watching)
    return change_filter


def supervise(
    argv: Sequence[str],
    files: Sequence[str],
    *,
    config_files: Sequence[str] = (),
    logger: str = "console",
    log_level: str = "info",
    custom_logger: str | None = None,
) -> int:
    """Run ``tomodachi <argv>`` in a child process, restarted on file changes; return the exit code.

    *argv* starts with the command (``run``). *files* and *config_files* are always watched.
    """
    from tomodachi.logging import configure, get_logger

    configure(logger, log_level, custom_logger=custom_logger)
    events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    stop_watching = threading.Event()
    with signals_as_events(events):
        change_filter = watch(files, config_files, events, stop_watching)
        run = _Reloader(child_arguments(argv), events, get_logger("tomodachi.reload"), change_filter)
        try:
            return run.loop()
        finally:
            stop_watching.set()
            run.clean_up()


@contextlib.contextmanager
def signals_as_events(events: queue.SimpleQueue[tuple[str, Any]]) -> Iterator[None]:
    """Inside: SIGINT and SIGTERM are put on *events* as ``("signal", signum)``. After: they are
    ignored, as the run is over and the process exits (a late copy of a stop signal must not turn
    the exit into a KeyboardInterrupt, as in the runner)."""

    def on_signal(signum: int, frame: Any) -> None:
        events.put(("signal", signum))  # SimpleQueue.put may be called from a signal handler

    stop_signals = (signal.SIGINT, signal.SIGTERM)
    for signum in stop_signals:
        signal.signal(signum, on_signal)
    try:
        yield
    finally:
        for signum in stop_signals:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, signal.SIG_IGN)


class EventLoop:
    """What both supervisors share: the event queue their threads feed (a child's report or
    exit, a signal, file changes) and the loop that hands each event to an ``_on_*`` method until
    one of them returns the run's exit code. A subclass says when its next timer is due."""

    events: queue.SimpleQueue[tuple[str, Any]]
    log: Any
    change_filter: ChangeFilter | None

    def next_timer(self) -> float | None:
        """Seconds until :meth:`_on_timer` is due (None: no timer)."""
        raise NotImplementedError

    def loop(self) -> int:
        while True:
            try:
                kind, payload = self.events.get(timeout=self.next_timer())
            except queue.Empty:
                self._on_timer()
                continue
            code: int | None = None
            if kind == "ready":
                assert self.change_filter is not None
                self.log.info(
                    "reload on: watching for file changes (--production or --no-reload turns it off)",
                    paths=self.change_filter.describe(),
                )
            elif kind == "watch-failed":
                self.log.error(f"the file watcher failed, no more reloads: {payload!r}")
            elif kind == "report":
                self._on_report(*payload)
            elif kind == "signal":
                code = self._on_signal(payload)
            elif kind == "changes":
                self._on_changes(payload)
            elif kind == "exit":
                code = self._on_exit(*payload)
            if code is not None:
                return code

    def _on_timer(self) -> None:
        raise NotImplementedError

    def _on_report(self, number: int, report: Any) -> None:
        raise NotImplementedError

    def _on_signal(self, signum: int) -> int | None:
        raise NotImplementedError

    def _on_changes(self, changes: Any) -> None:
        raise NotImplementedError

    def _on_exit(self, number: int, returncode: int) -> int | None:
        raise NotImplementedError


class _Reloader(EventLoop):
    """The reload supervisor's state and its reaction to each event: each ``_on_*`` returns the
    run's exit code when it ends."""

    change_filter: ChangeFilter  # always watching

    def __init__(
        self,
        child_argv: list[str],
        events: queue.SimpleQueue[tuple[str, Any]],
        log: Any,
        change_filter: ChangeFilter,
    ) -> None:
        self.child_argv = child_argv
        self.events = events
        self.log = log
        self.change_filter = change_filter
        self.generation = 0
        self.child: _Child | None = _Child(child_argv, events, 0)
        self.reloaded = False  # a change has restarted the services at least once
        self.restart_pending = False  # the child is stopping for a reload
        self.stopping = False  # a stop signal came: exit once the child has stopped
        self.last_code = 0

    def _start(self) -> None:
        self.generation += 1
        self.child = _Child(self.child_argv, self.events, self.generation)

    def clean_up(self) -> None:
        child = self.child
        if child is not None:  # only on an unexpected error in the loop
            child.stop()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=DEFAULT_GRACE)
            child.close()

    def next_timer(self) -> float | None:
        child = self.child
        if child is not None and child.stop_deadline is not None:
            return max(0.0, child.stop_deadline - time.monotonic())
        return None

    def _on_timer(self) -> None:
        child = self.child
        if child is not None and child.stop_deadline is not None:
            self.log.warning(
                "services did not stop within their grace period after SIGTERM: killing them",
                pid=child.proc.pid,
            )
            child.signal(signal.SIGKILL)
            child.stop_deadline = None

    def _on_report(self, generation: int, report: Any) -> None:
        child = self.child
        if child is not None and generation == child.generation and isinstance(report, dict):
            if isinstance(report.get("grace_period"), (int, float)):
                child.grace = float(report["grace_period"])
            self.change_filter.update(
                report.get("ignored_dirs") or (), report.get("watched_file_endings") or ()
            )

    def _on_signal(self, signum: int) -> int | None:
        self.stopping = True
        child = self.child
        if child is None:
            return self.last_code
        child.signal(signum)
        if child.stop_deadline is None:
            grace = DEFAULT_GRACE if child.grace is None else child.grace
            child.stop_deadline = time.monotonic() + grace + KILL_MARGIN
        return None

    def _on_changes(self, changes: Any) -> None:
        if self.stopping:
            return
        self.log.info("files changed: restarting services", files=_describe(changes))
        self.reloaded = True
        if self.child is None:
            self._start()
        elif not self.restart_pending:
            self.restart_pending = True
            self.child.stop()

    def _on_exit(self, generation: int, returncode: int) -> int | None:
        child = self.child
        if child is None or generation != child.generation:
            return None
        code = self.last_code = _exit_code(returncode)
        child.close()
        self.child = None
        if self.stopping:
            return code
        if self.restart_pending:
            self.restart_pending = False
            self._start()
        elif not self.reloaded or code == 0:
            return code
        else:
            self.log.error(f"services exited with code {code}: waiting for a file change to restart them")
        return None
