"""``tomodachi.invoker.Invoker``: importable, but original-style invoker transports do not run.

An original custom transport subclasses ``Invoker``, builds its decorator with
``MyTransport.decorator(MyTransport.register)`` and is started through ``register(obj, context,
func, ...)`` returning a start function. Our runtime has no such protocol: transports subclass
:class:`tomodachi.Transport` with ``setup``/``start``/``stop``/``close``. So that the gap shows up
at once, with what to do, a handler decorated through ``Invoker.decorator`` raises
:class:`~tomodachi.TomodachiError` at decoration time (when the service file is imported).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from tomodachi.errors import TomodachiError

__all__ = ["FUNCTION_ATTRIBUTE", "INVOKER_TASK_START_KEYWORD", "START_ATTRIBUTE", "Invoker"]

FUNCTION_ATTRIBUTE = "_tomodachi_function_is_invoker_function"
START_ATTRIBUTE = "_tomodachi_deprecated_invoker_function_start_marker"
INVOKER_TASK_START_KEYWORD = "_tomodachi_invoker_task_start_keyword"


class Invoker:
    """Base class of the original's transports; kept so that imports and subclasses work."""

    #: The original's per-service state, keyed by service instance (unused here).
    context: ClassVar[dict[Any, Any]] = {}

    @classmethod
    def decorator(cls, cls_func: Callable[..., Any]) -> Callable[..., Any]:
        """Build a handler decorator from *cls_func*; using it raises :class:`TomodachiError`.

        ``MyTransport.decorator(MyTransport.register)`` itself succeeds, so modules defining
        such transports still import; applying the result to a handler
        (``@my_trigger`` or ``@my_trigger(...)``) raises.
        """

        def reject(func: Any) -> NoReturn:
            raise TomodachiError(
                f"{cls.__name__} is a tomodachi.invoker.Invoker transport, which this tomodachi cannot run "
                f"(handler {getattr(func, '__qualname__', func)!r}): port it to a tomodachi.Transport "
                "subclass with setup/start/stop/close methods - see 'Writing your own transport' in the "
                "tomodachi README"
            )

        def trigger(*args: Any, **kwargs: Any) -> Any:
            if len(args) == 1 and not kwargs and callable(args[0]):
                reject(args[0])  # bare @my_trigger
            return reject  # @my_trigger(...)

        trigger.__name__ = getattr(cls_func, "__name__", "decorator")
        trigger.__qualname__ = getattr(cls_func, "__qualname__", trigger.__name__)
        trigger.__doc__ = getattr(cls_func, "__doc__", None)
        return trigger
