"""``@tomodachi.decorator``: turn a check into a reusable per-handler decorator.

The decorated check runs before the handler on every call; when it returns ``None`` or
``True`` the handler runs, any other value is returned instead (for HTTP it becomes the
response)::

    @tomodachi.decorator
    async def require_token(self, request):
        if request.headers.get("X-Token") != "secret":
            return 403, "forbidden"
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, overload

__all__ = ["decorator"]

Check = Callable[..., Any]
Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def _make(check: Check, include_function: bool) -> Wrapper:
    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            outcome = check(func, *args, **kwargs) if include_function else check(*args, **kwargs)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome is None or outcome is True:
                result = func(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result
            return outcome

        # Transports inject by the handler's own parameters: the (*args, **kwargs) wrapper
        # presents the signature of the function it wraps.
        try:
            wrapper.__signature__ = inspect.signature(func, follow_wrapped=False)  # type: ignore[attr-defined]
        except (TypeError, ValueError):  # pragma: no cover - callables without a signature
            pass
        return wrapper

    return functools.wraps(check)(wrap)


@overload
def decorator(check: Check, /) -> Wrapper: ...
@overload
def decorator(*, include_function: bool = False) -> Callable[[Check], Wrapper]: ...
def decorator(check: Check | None = None, /, *, include_function: bool = False) -> Any:
    """Create a handler decorator from *check*; usable bare or called (``include_function=True``
    passes the wrapped handler as the first argument)."""
    if check is not None:
        return _make(check, include_function)
    return lambda fn: _make(fn, include_function)
