"""Tracked tasks with an owner that drains or cancels them (structured concurrency).

Every transport has two trackers (see :class:`tomodachi.Transport`): ``intake`` for the loops
that take work in (receive loops, listeners, tickers), cancelled first when the service stops, and
``tasks`` for the work in flight (handler calls), drained within the grace period. Nothing a
tracker spawns is left running or un-awaited.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["TaskTracker", "gather_or_cancel"]


async def gather_or_cancel(*coros: Coroutine[Any, Any, Any]) -> list[Any]:
    """Run *coros* concurrently; if one fails, cancel the others and raise its exception.

    Like ``asyncio.gather`` (the first exception as is, not an ``ExceptionGroup``), but nothing is
    left running after it returns or raises.
    """
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class TaskTracker:
    """Owns background tasks: nothing it spawns is ever left un-awaited.

    ``spawn`` starts a task and keeps it until it is done; ``len()`` is the number still running.
    ``drain(timeout)`` waits for the running tasks, then cancels what is left and returns the
    names of the cancelled tasks so the owner can log why they were cancelled; ``cancel_all()``
    cancels at once. A task's exception is its owner's to handle: wrap the coroutine (a tracker
    does not log nor re-raise it).
    """

    __slots__ = ("_discard", "_tasks")

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._discard = self._tasks.discard  # one bound method, not one per task

    def spawn(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        name: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[T]:
        """Run *coro* as a task of this tracker (*name* is the task's name, in logs and drain).

        *loop* is the running loop, when the caller has it at hand (a per-message caller: on
        Python 3.11 looking the running loop up costs a ``getpid`` system call). *context* is the
        context the task runs in (default: a copy of the current one).
        """
        task = (loop or asyncio.get_running_loop()).create_task(coro, name=name, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float | None) -> list[str]:  # noqa: ASYNC109 - a deadline, not a cancel scope
        """Wait up to *timeout* seconds for all tasks; cancel the rest; return their names."""
        if not self._tasks:
            return []
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        if not pending:
            return []
        for task in pending:
            task.cancel()
        await asyncio.wait(pending)
        return sorted(task.get_name() for task in pending)

    async def cancel_all(self) -> list[str]:
        """Cancel every task, wait until they have ended; return the names of those cancelled."""
        if not self._tasks:
            return []
        pending = set(self._tasks)
        cancelled = [task for task in pending if task.cancel()]
        await asyncio.wait(pending)
        return sorted(task.get_name() for task in cancelled)
