"""``wait=False`` for publish functions: run the call as a task and return the task."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

__all__ = ["background_unless_wait"]

P = ParamSpec("P")
T = TypeVar("T")


def background_unless_wait(
    wait_position: int,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T | asyncio.Task[T]]]]:
    """Decorate a publish function whose ``wait`` parameter is at *wait_position* (or a keyword).

    ``wait=True`` (the default) awaits the call and returns its result; ``wait=False`` starts it
    as a task and returns the task, as the original library does. The decorated function itself
    just does the work and ignores ``wait``.
    """

    def decorate(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T | asyncio.Task[T]]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T | asyncio.Task[T]:
            if "wait" in kwargs:
                wait = kwargs["wait"]
            else:
                wait = args[wait_position] if len(args) > wait_position else True
            if wait:
                return await func(*args, **kwargs)
            return asyncio.ensure_future(func(*args, **kwargs))

        return wrapper

    return decorate
