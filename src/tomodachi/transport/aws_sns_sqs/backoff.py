"""Retry delays and outage logging for the SNS+SQS consumer and the AWS publish calls."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any, ClassVar

from tomodachi.logging import Logger

__all__ = ["Backoff", "Outage"]


class Backoff:
    """Exponential delays with jitter: 0.5 s, 1 s, 2 s, ... up to *cap*."""

    def __init__(self, first: float = 0.5, cap: float = 20.0) -> None:
        self.first, self.cap, self.attempt = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2.0**self.attempt)
        self.attempt += 1
        return delay * (0.75 + random.random() / 4)

    def reset(self) -> None:
        self.attempt = 0


class Outage:
    """Logs the first failure of a series and the recovery, not each retry in between."""

    #: The first retry delay (seconds); doubled per failure up to 20 s.
    first_delay: ClassVar[float] = 0.5

    def __init__(
        self,
        log: Logger,
        describe: Callable[[BaseException], str],
        failed: str,
        recovered: str,
        **fields: Any,
    ) -> None:
        self._log, self._describe, self._failed, self._recovered, self._fields = (
            log,
            describe,
            failed,
            recovered,
            fields,
        )
        self._backoff = Backoff(first=self.first_delay)
        self._since: float | None = None
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        """Record a failure; returns the seconds to wait before retrying."""
        self.failures += 1
        if self._since is None:
            self._since = asyncio.get_running_loop().time()
            self._log.warning(self._failed, error=self._describe(exc), **self._fields)
        return self._backoff.next()

    def recovered(self) -> None:
        if self._since is None:
            return
        elapsed = asyncio.get_running_loop().time() - self._since
        self._log.info(self._recovered, failures=self.failures, seconds=round(elapsed, 1), **self._fields)
        self._since, self.failures = None, 0
        self._backoff.reset()
