"""Code reload for ``tomodachi run`` (on unless ``--production``; ``--reload`` / ``--no-reload``).

Two processes:

* the **supervisor** (:mod:`tomodachi.reload.supervisor`) is the ``tomodachi run`` process the
  user started. It never imports the service files or a transport library: it watches the
  project's files with ``watchfiles`` (native file events) and runs the services in a child;
* the **child** is a fresh ``python -m tomodachi run ...`` with the same arguments and
  environment (minus ``--reload``/``--no-reload``) and the internal marker variable
  :data:`CHILD_ENV`, which holds the file descriptor of a socket shared with the supervisor
  (:mod:`tomodachi.reload.child`). Through it the child reports its services' ``watcher.*``
  options and grace period, and notices when the supervisor is gone (it then stops itself
  gracefully, so a SIGKILLed supervisor leaves no orphan).

On a change (debounced), the supervisor sends SIGTERM to the child, waits for its graceful stop
(its grace period, then SIGKILL) and starts a new child. See docs/cli.md, "Reload".
"""

from __future__ import annotations

__all__ = ["CHILD_ENV"]

#: Set in the environment of the services' process started by the reload supervisor: the file
#: descriptor of its end of the supervisor's socket; emptied once read, so that processes started
#: from the services' process never start a supervisor of their own. Internal; not for users.
CHILD_ENV = "TOMODACHI_RELOAD_CHILD"
