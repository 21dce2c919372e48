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
import os
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
    _Child,
    _describe,
    _exit_code,
    child_arguments,
    start_watcher,
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
    import logging

    from tomodachi.logging import configure, get_logger

    configure(logger, log_level, custom_logger=custom_logger)
    log = get_logger("tomodachi.workers")
    events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

    reserved: socket.socket | None = None
    if port == 0 and hasattr(socket, "SO_REUSEPORT"):
        reserved, port = _reserve_port(host)
    child_argv = worker_arguments(argv, port if reserved is not None else None)

    stop_watching = threading.Event()
    change_filter = None
    if reload:
        from tomodachi.reload.filter import ChangeFilter, watch_roots

        logging.getLogger("watchfiles").setLevel(logging.WARNING)
        roots = watch_roots(files, (os.path.dirname(os.path.abspath(p)) for p in config_files))
        always = [p if p.endswith(".py") or os.path.exists(p) else f"{p}.py" for p in files]
        change_filter = ChangeFilter(roots, always=[*always, *config_files])
        start_watcher(roots, change_filter, events, stop_watching)

    def on_signal(signum: int, frame: Any) -> None:
        events.put(("signal", signum))

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}

    slots = [_Slot(index) for index in range(workers)]
    by_serial: dict[int, _Slot] = {}
    serial = 0
    grace: float | None = None

    def start(slot: _Slot) -> None:
        nonlocal serial
        serial += 1
        slot.child = _Child(child_argv, events, serial, {WORKER_ENV: f"{slot.index}/{workers}"})
        if grace is not None:
            slot.child.grace = grace
        slot.reported = False
        slot.restart_at = None
        by_serial[serial] = slot

    def alive() -> list[_Child]:
        return [slot.child for slot in slots if slot.child is not None]

    def stop_all(signum: int = signal.SIGTERM) -> None:
        for slot in slots:
            slot.restart_at = None
            child = slot.child
            if child is None:
                continue
            if child.stop_deadline is None:
                period = DEFAULT_GRACE if child.grace is None else child.grace
                child.stop_deadline = time.monotonic() + period + KILL_MARGIN
            child.signal(signum)

    for slot in slots:
        start(slot)
    log.info(
        f"started {workers} worker processes" + (f" on port {port}" if reserved is not None else ""),
        pids=[child.proc.pid for child in alive()],
    )

    stopping = False  # a stop signal came, or the run ends: exit once every worker is down
    reload_pending = False  # every worker is stopping for a reload
    waiting_for_change = False  # after a change, the services failed: wait for the next one
    reloaded = False
    code = 0
    failed_code = 0  # of the last failure after a change (reload)
    try:
        while True:
            now = time.monotonic()
            moments = [c.stop_deadline for c in alive() if c.stop_deadline is not None]
            moments += [s.restart_at for s in slots if s.restart_at is not None]
            timeout = max(0.0, min(moments) - now) if moments else None
            try:
                kind, payload = events.get(timeout=timeout)
            except queue.Empty:
                now = time.monotonic()
                for child in alive():
                    if child.stop_deadline is not None and child.stop_deadline <= now:
                        log.warning(
                            "worker did not stop within its grace period after SIGTERM: killing it",
                            pid=child.proc.pid,
                        )
                        child.signal(signal.SIGKILL)
                        child.stop_deadline = None
                for slot in slots:
                    if slot.restart_at is not None and slot.restart_at <= now and slot.child is None:
                        start(slot)
                        assert slot.child is not None
                        log.info("restarted worker", worker=slot.index, pid=slot.child.proc.pid)
                continue
            if kind == "ready":
                assert change_filter is not None
                log.info(
                    "reload on: watching for file changes (--production or --no-reload turns it off)",
                    paths=change_filter.describe(),
                )
            elif kind == "watch-failed":
                log.error(f"the file watcher failed, no more reloads: {payload!r}")
            elif kind == "report":
                number, report = payload
                slot_of = by_serial.get(number)
                if slot_of is None or slot_of.child is None or slot_of.child.generation != number:
                    continue
                slot_of.reported = True
                if isinstance(report, dict) and report.get("memory_broker") and not stopping:
                    names = ", ".join(str(name) for name in report["memory_broker"])
                    log.error(
                        f"--workers {workers} cannot run {names} on the in-memory message broker "
                        "(amqp.broker / aws_sns_sqs.broker = 'memory'): it lives in one process, so "
                        "the workers would not share it; use one worker or a real broker"
                    )
                    stopping = True
                    code = 2
                    stop_all()
                if isinstance(report, dict):
                    if isinstance(report.get("grace_period"), (int, float)):
                        grace = slot_of.child.grace = float(report["grace_period"])
                    if change_filter is not None:
                        change_filter.update(
                            report.get("ignored_dirs") or (), report.get("watched_file_endings") or ()
                        )
            elif kind == "signal":
                stopping = True
                if not alive():  # waiting for a change after a failure: exit with its code
                    return code or failed_code
                stop_all(payload)
            elif kind == "changes":
                if stopping:
                    continue
                log.info("files changed: restarting the workers", files=_describe(payload))
                reloaded = True
                waiting_for_change = False
                if alive():
                    reload_pending = True
                    stop_all()
                else:
                    for slot in slots:
                        start(slot)
            elif kind == "exit":
                number, returncode = payload
                slot_of = by_serial.pop(number, None)
                if slot_of is None or slot_of.child is None or slot_of.child.generation != number:
                    continue
                child = slot_of.child
                slot_of.child = None
                child.close()
                exit_code = _exit_code(returncode)
                if stopping or reload_pending or waiting_for_change:
                    if stopping and exit_code and not code:
                        code = exit_code
                    if alive():
                        continue
                    if stopping:
                        return code
                    if reload_pending:
                        reload_pending = False
                        for slot in slots:
                            start(slot)
                    continue
                if exit_code == 0:
                    log.info("a worker ended the run (code 0): stopping the others", worker=slot_of.index)
                    stopping = True
                    if not alive():
                        return code
                    stop_all()
                elif not slot_of.reported:
                    # It failed before its services were set up: the others will fail the same way.
                    if reload and reloaded:
                        log.error(
                            f"services exited with code {exit_code}: "
                            "waiting for a file change to restart them"
                        )
                        waiting_for_change = True
                        failed_code = exit_code
                    else:
                        log.error(
                            f"worker {slot_of.index} failed with code {exit_code} before its services "
                            "were set up: stopping the workers"
                        )
                        stopping = True
                        code = exit_code
                    if not alive():
                        if stopping:
                            return code
                        continue
                    stop_all()
                else:
                    ran = time.monotonic() - child.started_at
                    if ran >= STABLE_AFTER:
                        slot_of.backoff = FIRST_BACKOFF
                    delay = slot_of.backoff
                    slot_of.backoff = min(delay * 2, MAX_BACKOFF)
                    slot_of.restarts += 1
                    slot_of.restart_at = time.monotonic() + delay
                    log.warning(
                        f"worker {slot_of.index} exited with code {exit_code}: restarting it in {delay:g} s",
                        worker=slot_of.index,
                        pid=child.proc.pid,
                        ran_seconds=round(ran, 1),
                        restarts=slot_of.restarts,
                    )
    finally:
        stop_watching.set()
        leftover = alive()
        if leftover:  # only on an unexpected error in this loop
            stop_all()
            for child in leftover:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(timeout=DEFAULT_GRACE)
                child.close()
        if reserved is not None:
            reserved.close()
        for signum in previous:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, signal.SIG_IGN)
