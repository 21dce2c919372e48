"""The workers supervisor: N worker processes of the services, one port, no orphans.

It imports neither the service files nor a transport library (as the reload supervisor, whose
child process handling it reuses: :class:`tomodachi.reload.supervisor._Child`).

* Each worker is ``python -m tomodachi <the same arguments> --workers=1`` with
  :data:`tomodachi.workers.WORKER_ENV` (``index/count``) and the reload child's socket; its HTTP
  servers bind with ``SO_REUSEPORT``. A port of 0 (``--port 0``) is picked here, once, and given to
  every worker (``--port=N``); the supervisor keeps it bound (never listening) while it runs, so a
  restarted worker gets the same port.
* SIGINT/SIGTERM are passed to every worker; each stops gracefully within its grace period (then
  :data:`~tomodachi.reload.supervisor.KILL_MARGIN` seconds later it is killed). The exit code is
  the first non-zero exit code of a worker while stopping, else 0.
* A worker that exits on its own with a code other than 0 after its services were set up is
  restarted after a backoff (:data:`FIRST_BACKOFF` doubling to :data:`MAX_BACKOFF`, back to the
  first once a worker ran :data:`STABLE_AFTER` seconds), one WARNING per restart. One that fails
  before its services are set up (an import error, a bad option) ends the run with its code. One
  that exits with 0 (``tomodachi.exit()``) ends the run: the others are stopped.
* With reload on, a file change stops every worker and starts N new ones; a failure after a change
  waits for the next change (as the reload supervisor does).
"""

from __future__ import annotations

import contextlib
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

from tomodachi.reload.supervisor import (
    DEFAULT_GRACE,
    KILL_MARGIN,
    EventLoop,
    _Child,
    _describe,
    _exit_code,
    child_arguments,
    signals_as_events,
    watch,
)
from tomodachi.workers import WORKER_ENV

__all__ = ["FIRST_BACKOFF", "MAX_BACKOFF", "STABLE_AFTER", "supervise_workers", "worker_arguments"]

#: Seconds before the first restart of a crashed worker; doubled on each further crash ...
FIRST_BACKOFF = 0.5
#: ... up to this many seconds ...
MAX_BACKOFF = 30.0
#: ... and back to FIRST_BACKOFF for a worker that ran at least this many seconds before it crashed.
STABLE_AFTER = 60.0


def worker_arguments(argv: Sequence[str], port: int | None = None) -> list[str]:
    """*argv* (``run`` ...) for a worker: no reload flags, ``--workers=1`` (and ``--port=N``) added
    before ``--``; a flag given last wins, so they override the user's."""
    args = child_arguments(argv)
    extra = ["--workers=1", *([f"--port={port}"] if port is not None else [])]
    at = args.index("--") if "--" in args else len(args)
    return [*args[:at], *extra, *args[at:]]


def _reserve_port(host: str | None) -> tuple[socket.socket, int]:
    """A free port, bound with SO_REUSEPORT (never listening: it takes no connections)."""
    family = socket.AF_INET6 if host and ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host or "", 0))
    return sock, int(sock.getsockname()[1])


class _Slot:
    """One worker index: its current process, its crash backoff and pending restart."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.child: _Child | None = None
        self.reported = False
        self.backoff = FIRST_BACKOFF
        self.restart_at: float | None = None
        self.restarts = 0


def supervise_workers(
    argv: Sequence[str],
    files: Sequence[str],
    *,
    workers: int,
    reload: bool = False,
    port: int | None = None,
    host: str | None = None,
    config_files: Sequence[str] = (),
    logger: str = "console",
    log_level: str = "info",
    custom_logger: str | None = None,
) -> int:
    """Run ``tomodachi <argv>`` in *workers* processes until stopped; return the exit code."""
    from tomodachi.logging import configure, get_logger

    configure(logger, log_level, custom_logger=custom_logger)
    events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

    reserved: socket.socket | None = None
    if port == 0 and hasattr(socket, "SO_REUSEPORT"):
        reserved, port = _reserve_port(host)

    stop_watching = threading.Event()
    change_filter = watch(files, config_files, events, stop_watching) if reload else None
    with signals_as_events(events):
        run = _Workers(
            worker_arguments(argv, port if reserved is not None else None),
            workers,
            events,
            get_logger("tomodachi.workers"),
            change_filter,
            reload=reload,
        )
        try:
            run.start_all()
            run.log.info(
                f"started {workers} worker processes" + (f" on port {port}" if reserved is not None else ""),
                pids=[child.proc.pid for child in run.alive()],
            )
            return run.loop()
        finally:
            stop_watching.set()
            run.clean_up()
            if reserved is not None:
                reserved.close()


class _Workers(EventLoop):
    """The supervisor's state and its reaction to each event (a child's report or exit, a
    signal, file changes, a timer): each ``_on_*`` returns the run's exit code when it ends."""

    def __init__(
        self,
        child_argv: list[str],
        workers: int,
        events: queue.SimpleQueue[tuple[str, Any]],
        log: Any,
        change_filter: Any,
        *,
        reload: bool,
    ) -> None:
        self.child_argv = child_argv
        self.workers = workers
        self.events = events
        self.log = log
        self.change_filter = change_filter
        self.reload = reload
        self.slots = [_Slot(index) for index in range(workers)]
        self.by_serial: dict[int, _Slot] = {}
        self.serial = 0
        self.grace: float | None = None
        self.stopping = False  # a stop signal came, or the run ends: exit once every worker is down
        self.reload_pending = False  # every worker is stopping for a reload
        self.waiting_for_change = False  # after a change, the services failed: wait for the next one
        self.reloaded = False
        self.code = 0
        self.failed_code = 0  # of the last failure after a change (reload)

    # -- children ------------------------------------------------------------------------------
    def start(self, slot: _Slot) -> None:
        self.serial += 1
        env = {WORKER_ENV: f"{slot.index}/{self.workers}"}
        slot.child = _Child(self.child_argv, self.events, self.serial, env)
        if self.grace is not None:
            slot.child.grace = self.grace
        slot.reported = False
        slot.restart_at = None
        self.by_serial[self.serial] = slot

    def start_all(self) -> None:
        for slot in self.slots:
            self.start(slot)

    def alive(self) -> list[_Child]:
        return [slot.child for slot in self.slots if slot.child is not None]

    def stop_all(self, signum: int = signal.SIGTERM) -> None:
        for slot in self.slots:
            slot.restart_at = None
            child = slot.child
            if child is None:
                continue
            if child.stop_deadline is None:
                period = DEFAULT_GRACE if child.grace is None else child.grace
                child.stop_deadline = time.monotonic() + period + KILL_MARGIN
            child.signal(signum)

    def clean_up(self) -> None:
        leftover = self.alive()
        if leftover:  # only on an unexpected error in the loop
            self.stop_all()
            for child in leftover:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(timeout=DEFAULT_GRACE)
                child.close()

    def _slot_of(self, number: int, *, forget: bool = False) -> _Slot | None:
        slot = self.by_serial.pop(number, None) if forget else self.by_serial.get(number)
        if slot is None or slot.child is None or slot.child.generation != number:
            return None
        return slot

    # -- the loop --------------------------------------------------------------------------------
    def next_timer(self) -> float | None:
        moments = [c.stop_deadline for c in self.alive() if c.stop_deadline is not None]
        moments += [s.restart_at for s in self.slots if s.restart_at is not None]
        return max(0.0, min(moments) - time.monotonic()) if moments else None

    def _on_timer(self) -> None:
        now = time.monotonic()
        for child in self.alive():
            if child.stop_deadline is not None and child.stop_deadline <= now:
                self.log.warning(
                    "worker did not stop within its grace period after SIGTERM: killing it",
                    pid=child.proc.pid,
                )
                child.signal(signal.SIGKILL)
                child.stop_deadline = None
        for slot in self.slots:
            if slot.restart_at is not None and slot.restart_at <= now and slot.child is None:
                self.start(slot)
                assert slot.child is not None
                self.log.info("restarted worker", worker=slot.index, pid=slot.child.proc.pid)

    def _on_report(self, number: int, report: Any) -> None:
        slot = self._slot_of(number)
        if slot is None or slot.child is None:
            return
        slot.reported = True
        if not isinstance(report, dict):
            return
        if report.get("memory_broker") and not self.stopping:
            names = ", ".join(str(name) for name in report["memory_broker"])
            self.log.error(
                f"--workers {self.workers} cannot run {names} on the in-memory message broker "
                "(amqp.broker / aws_sns_sqs.broker = 'memory'): it lives in one process, so "
                "the workers would not share it; use one worker or a real broker"
            )
            self.stopping = True
            self.code = 2
            self.stop_all()
        if isinstance(report.get("grace_period"), (int, float)):
            self.grace = slot.child.grace = float(report["grace_period"])
        if self.change_filter is not None:
            self.change_filter.update(
                report.get("ignored_dirs") or (), report.get("watched_file_endings") or ()
            )

    def _on_signal(self, signum: int) -> int | None:
        self.stopping = True
        if not self.alive():  # waiting for a change after a failure: exit with its code
            return self.code or self.failed_code
        self.stop_all(signum)
        return None

    def _on_changes(self, changes: Any) -> None:
        if self.stopping:
            return
        self.log.info("files changed: restarting the workers", files=_describe(changes))
        self.reloaded = True
        self.waiting_for_change = False
        if self.alive():
            self.reload_pending = True
            self.stop_all()
        else:
            self.start_all()

    def _on_exit(self, number: int, returncode: int) -> int | None:
        slot = self._slot_of(number, forget=True)
        if slot is None or slot.child is None:
            return None
        child = slot.child
        slot.child = None
        child.close()
        exit_code = _exit_code(returncode)
        if self.stopping or self.reload_pending or self.waiting_for_change:
            return self._exited_while_stopping(exit_code)
        if exit_code == 0:
            self.log.info("a worker ended the run (code 0): stopping the others", worker=slot.index)
            self.stopping = True
            if not self.alive():
                return self.code
            self.stop_all()
            return None
        if not slot.reported:
            return self._failed_before_set_up(slot, exit_code)
        self._restart_later(slot, child, exit_code)
        return None

    def _exited_while_stopping(self, exit_code: int) -> int | None:
        if self.stopping and exit_code and not self.code:
            self.code = exit_code
        if self.alive():
            return None
        if self.stopping:
            return self.code
        if self.reload_pending:
            self.reload_pending = False
            self.start_all()
        return None

    def _failed_before_set_up(self, slot: _Slot, exit_code: int) -> int | None:
        # It failed before its services were set up: the others will fail the same way.
        if self.reload and self.reloaded:
            self.log.error(
                f"services exited with code {exit_code}: waiting for a file change to restart them"
            )
            self.waiting_for_change = True
            self.failed_code = exit_code
        else:
            self.log.error(
                f"worker {slot.index} failed with code {exit_code} before its services "
                "were set up: stopping the workers"
            )
            self.stopping = True
            self.code = exit_code
        if not self.alive():
            return self.code if self.stopping else None
        self.stop_all()
        return None

    def _restart_later(self, slot: _Slot, child: _Child, exit_code: int) -> None:
        ran = time.monotonic() - child.started_at
        if ran >= STABLE_AFTER:
            slot.backoff = FIRST_BACKOFF
        delay = slot.backoff
        slot.backoff = min(delay * 2, MAX_BACKOFF)
        slot.restarts += 1
        slot.restart_at = time.monotonic() + delay
        self.log.warning(
            f"worker {slot.index} exited with code {exit_code}: restarting it in {delay:g} s",
            worker=slot.index,
            pid=child.proc.pid,
            ran_seconds=round(ran, 1),
            restarts=slot.restarts,
        )
