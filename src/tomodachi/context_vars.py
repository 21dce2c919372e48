"""``tomodachi.get_contextvar(key)`` and ``tomodachi.context(key)``: named context variables.

Kept from the original, where they carried a few values of the run through the process.
``get_contextvar(key)`` returns the one :class:`contextvars.ContextVar` named
``tomodachi.<key>`` (created on first use, default ``None``); ``context(key)`` reads its value.

What tomodachi provides (see docs/compatibility.md):

* ``run.args``: the arguments given to ``tomodachi run`` after the command (a list of str);
  set by the CLI before the event loop starts, so every task of the run sees it.
* ``loop.setting``: the ``--loop`` setting of the run (``"auto"``, ``"asyncio"`` or
  ``"uvloop"``); set by the runner before the event loop starts.
* ``exit_code``: the exit code the run will end with so far (``tomodachi.exit(n)`` sets it);
  computed on read from the current run, or ``tomodachi.SERVICE_EXIT_CODE`` outside a run.
* ``service.logger``: the name of the current context logger (the logger ``self.logger`` and
  ``tomodachi.get_logger()`` return in a handler or lifecycle hook); computed on read.

A value set with ``get_contextvar(key).set(value)`` always wins in ``context(key)`` (within the
context it was set in, as for any context variable). The two computed keys are not stored in
their context variables: read them with ``context(key)``.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["context", "get_contextvar"]

_variables: dict[str, contextvars.ContextVar[Any]] = {}
_UNSET: Any = object()


def get_contextvar(key: str) -> contextvars.ContextVar[Any]:
    """The context variable named ``tomodachi.<key>`` (the same object for the same *key*)."""
    variable = _variables.get(key)
    if variable is None:
        variable = _variables.setdefault(key, contextvars.ContextVar(f"tomodachi.{key}", default=None))
    return variable


def context(key: str) -> Any:
    """The value of ``tomodachi.<key>`` in the current context (``None`` when there is none)."""
    value = get_contextvar(key).get(_UNSET)
    if value is not _UNSET:
        return value
    provider = _PROVIDERS.get(key)
    return provider() if provider is not None else None


def _exit_code() -> int:
    from tomodachi.runtime import current_runtime

    runtime = current_runtime()
    if runtime is not None and runtime.exit_code:
        return runtime.exit_code
    package: Any = sys.modules["tomodachi"]
    code: int = package.SERVICE_EXIT_CODE
    return code


def _service_logger() -> str:
    from tomodachi.logging import get_logger

    return get_logger().name


_PROVIDERS: dict[str, Callable[[], Any]] = {
    "exit_code": _exit_code,
    "service.logger": _service_logger,
}
