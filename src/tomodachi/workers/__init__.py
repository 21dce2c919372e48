"""``tomodachi run --workers N``: N worker processes of the services under one supervisor.

* the **supervisor** (:mod:`tomodachi.workers.supervisor`) is the ``tomodachi run`` process the
  user started. Like the reload supervisor it imports neither the service files nor a transport
  library; it starts N children, ``python -m tomodachi run ...`` with the same arguments (plus
  ``--workers=1``), passes SIGINT/SIGTERM on, restarts a worker that crashed (with backoff) and,
  when reload is on, restarts all of them on a file change;
* each **worker** serves the same port(s): its HTTP servers bind with ``SO_REUSEPORT``
  (``http.reuse_port`` forced on), so the kernel spreads the connections over the workers. It
  holds the reload child's socket to the supervisor (:mod:`tomodachi.reload.child`), so a
  supervisor that dies, even by SIGKILL, leaves no orphan.

A worker knows its index from :data:`WORKER_ENV`; worker 0 runs the scheduled functions that are
not cluster-safe (:func:`runs_local_schedules`). See docs/deployment.md.
"""

from __future__ import annotations

import os

__all__ = ["WORKER_ENV", "adopt", "runs_local_schedules", "this_worker"]

#: Set by the supervisor in each worker's environment: ``"<index>/<count>"``; emptied once read,
#: so that processes started by a worker are not workers. Internal; not for users.
WORKER_ENV = "TOMODACHI_WORKER"

# (index, count) of this process, when it is a worker of a supervisor; set once by the CLI.
_this: tuple[int, int] | None = None


def adopt() -> tuple[int, int] | None:
    """Read (and empty) :data:`WORKER_ENV`: this process is worker ``index`` of ``count``."""
    global _this
    value = os.environ.get(WORKER_ENV)
    if not value:
        return _this
    os.environ[WORKER_ENV] = ""
    index, _, count = value.partition("/")
    try:
        _this = (int(index), int(count))
    except ValueError:
        return _this
    return _this


def this_worker() -> tuple[int, int] | None:
    """``(index, count)`` when this process is a worker of ``tomodachi run --workers N``, else None."""
    return _this


def runs_local_schedules() -> bool:
    """Does this process run the scheduled functions that are not cluster-safe?

    Every process does, except the workers of ``--workers N`` other than worker 0: a schedule
    runs in one worker only (a cluster-safe one is claimed by whichever worker gets there first).
    """
    return _this is None or _this[0] == 0
