"""The services' side of reload: the process the supervisor started (stdlib only).

The supervisor passes one end of a socket pair as the file descriptor in
:data:`tomodachi.reload.CHILD_ENV`. The child

* watches it from a daemon thread: end of file means the supervisor is gone (killed, even by
  SIGKILL), and the child then sends itself SIGTERM - a graceful stop, never an orphan;
* writes one JSON line to it once its services are set up: their ``watcher.*`` options and the
  longest grace period, which the supervisor needs and cannot learn without importing the
  service files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
from typing import Any

__all__ = ["SupervisorLink", "attach"]


class SupervisorLink:
    """The child's end of the supervisor's socket."""

    def __init__(self, fd: int) -> None:
        os.set_inheritable(fd, False)  # not for the services' own subprocesses
        self._sock = socket.socket(fileno=fd)
        self._lock = threading.Lock()
        thread = threading.Thread(target=self._watch_supervisor, name="tomodachi.reload.link", daemon=True)
        thread.start()

    def _watch_supervisor(self) -> None:
        with contextlib.suppress(OSError):
            while self._sock.recv(256):
                pass
        # The supervisor exited or was killed: stop the services as on SIGTERM.
        with contextlib.suppress(OSError):
            os.kill(os.getpid(), signal.SIGTERM)

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        with self._lock, contextlib.suppress(OSError):
            self._sock.sendall(data)

    def report_services(self) -> None:
        """Send the ``watcher.*`` options and the grace period of the run's services (if any)."""
        from tomodachi.options import Options
        from tomodachi.options.definitions import grace_period_of
        from tomodachi.runtime import get_services

        ignored: list[str] = []
        endings: list[str] = []
        grace: float | None = None
        for service in get_services().values():
            options = getattr(service, "options", None)
            if not isinstance(options, Options):
                continue
            ignored.extend(options.watcher.ignored_dirs)
            endings.extend(options.watcher.watched_file_endings)
            period = grace_period_of(options)
            grace = period if grace is None else max(grace, period)
        self.send(
            {
                "ignored_dirs": ignored,
                "watched_file_endings": endings,
                "grace_period": grace,
                "memory_broker": _on_memory_broker(get_services().values()),
            }
        )


#: The message transports with an in-memory broker, by kind, and the option that selects it.
_BROKER_OPTIONS = {"amqp": "amqp.broker", "aws_sns_sqs": "aws_sns_sqs.broker"}


def _on_memory_broker(services: Any) -> list[str]:
    """The names of the services with message handlers on the in-memory broker (by their options;
    ``--message-broker memory`` is refused by the CLI already): a workers supervisor refuses them."""
    from tomodachi.entrypoint import discover_entrypoints
    from tomodachi.options import Options

    names: list[str] = []
    for service in services:
        options = getattr(service, "options", None)
        if not isinstance(options, Options):
            continue
        for _, entrypoint in discover_entrypoints(type(service)):
            option = _BROKER_OPTIONS.get(str(getattr(entrypoint.transport, "kind", "")))
            if option is not None and str(options[option]).lower() == "memory":
                names.append(str(getattr(service, "name", type(service).__name__)))
                break
    return names


def attach(value: str) -> SupervisorLink | None:
    """Connect to the supervisor whose socket is the file descriptor *value* (from CHILD_ENV)."""
    try:
        fd = int(value)
        os.fstat(fd)
    except (ValueError, OSError):
        return None  # not started by a supervisor after all (a stray variable)
    return SupervisorLink(fd)
