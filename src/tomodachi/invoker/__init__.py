"""``tomodachi.invoker``: the names of the original's invoker package.

* ``decorator`` is ``tomodachi.decorator`` (``@tomodachi.decorator`` checks around handlers).
* ``Invoker`` is importable, but transports written as ``Invoker`` subclasses do not run here:
  ``Invoker.decorator(...)`` raises a one-line ``TomodachiError`` when it decorates a handler,
  saying how to port the transport to :class:`tomodachi.Transport` (README, "Writing your own
  transport").
* ``FUNCTION_ATTRIBUTE``, ``START_ATTRIBUTE`` and ``INVOKER_TASK_START_KEYWORD`` keep their
  values for imports; nothing in tomodachi reads or sets them (handlers carry their
  declarations in ``__tomodachi_entrypoints__``, see :func:`tomodachi.entrypoint.entrypoints_of`).
"""

from __future__ import annotations

from tomodachi.invoker.base import (
    FUNCTION_ATTRIBUTE,
    INVOKER_TASK_START_KEYWORD,
    START_ATTRIBUTE,
    Invoker,
)
from tomodachi.invoker.decorator import decorator

__all__ = ["FUNCTION_ATTRIBUTE", "INVOKER_TASK_START_KEYWORD", "START_ATTRIBUTE", "Invoker", "decorator"]
