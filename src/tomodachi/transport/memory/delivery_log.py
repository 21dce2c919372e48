"""A record of what happened to messages (one :class:`Attempt` per delivery to a handler), and waiting on it.

Two logs are kept with this class:

- the in-memory broker's own (``MemoryBroker.log``): the in-memory transports add one attempt
  per delivery, the broker adds the dead-lettering it does itself (SQS redrive);
- the log of a ``tomodachi.testing`` run, on any broker: it records every
  :class:`~tomodachi.messaging.observe.Settled` delivery the run's transports report
  (:meth:`Attempt.from_settled`), and answers ``Delivery.outcome()`` - "was my message handled,
  retried, dead-lettered?" - without sleeping.

A log is bounded, so that a long run does not grow with every message: it keeps the latest
:data:`RECENT_ATTEMPTS` attempts of all messages, and every attempt (up to
:data:`ATTEMPTS_PER_MESSAGE`) of the messages someone tracks - each
:class:`tomodachi.testing.Delivery` tracks its message while it is alive, for up to
:data:`TRACKED_MESSAGES` messages at a time. An attempt keeps the handler's exception without
its traceback (which would keep every frame of the handler, and the message in it, alive).
"""

from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tomodachi.messaging.observe import Settled

__all__ = ["ATTEMPTS_PER_MESSAGE", "RECENT_ATTEMPTS", "TRACKED_MESSAGES", "Attempt", "DeliveryLog"]

#: How many of the latest attempts (of any message) the log keeps.
RECENT_ATTEMPTS = 1_000
#: How many tracked messages the log keeps every attempt of (the least recently tracked goes).
TRACKED_MESSAGES = 10_000
#: How many attempts of one tracked message the log keeps (the latest).
ATTEMPTS_PER_MESSAGE = 1_000


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery of a message to a handler, and how it was settled."""

    message_ids: frozenset[str]
    """Every id of the message (AMQP message id; SNS and SQS message ids)."""
    service: str
    handler: str
    delivery: int
    """1 for the first delivery to this handler's queue."""
    result: str
    """``handled``, ``retry``, ``dead_lettered`` or ``dropped``."""
    reason: str = ""
    error: BaseException | None = field(default=None, compare=False)
    """The exception the handler raised, without its traceback."""
    kind: str = ""
    """The transport family (``amqp``, ``aws_sns_sqs``, a custom one's); ``""`` for the broker's own moves."""
    delay: float | None = None
    """For a retry: the seconds before the next delivery, where the transport reported it."""

    @classmethod
    def from_settled(cls, event: Settled) -> Attempt:
        """The attempt a transport reported to the run's observers."""
        return cls(
            message_ids=event.message_ids,
            service=event.service,
            handler=event.handler,
            delivery=event.attempt,
            result=event.result,
            reason=event.reason,
            error=event.error,
            kind=event.kind,
            delay=event.delay,
        )


class _Track:
    """The attempts of one tracked message, and every id it is known by."""

    __slots__ = ("attempts", "holders", "ids")

    def __init__(self, message_id: str, per_message: int) -> None:
        self.ids = {message_id}
        self.attempts: deque[Attempt] = deque(maxlen=per_message)
        self.holders = 1

    def take(self, attempt: Attempt) -> frozenset[str]:
        """Record *attempt*; returns the ids it adds to the message (an SNS id's SQS copies)."""
        self.attempts.append(attempt)
        new = attempt.message_ids - self.ids
        self.ids |= new
        return new


class DeliveryLog:
    """Attempts in the order they happened, with waiters woken on every new one (bounded)."""

    def __init__(
        self,
        *,
        recent: int = RECENT_ATTEMPTS,
        tracked: int = TRACKED_MESSAGES,
        per_message: int = ATTEMPTS_PER_MESSAGE,
    ) -> None:
        self._recent: deque[Attempt] = deque(maxlen=recent)
        self._tracks: OrderedDict[str, _Track] = OrderedDict()  # by the id it was tracked with
        self._index: dict[str, _Track] = {}  # every id of a tracked message -> its track
        self._tracked_limit = tracked
        self._per_message = per_message
        self._changed = asyncio.Event()

    @property
    def attempts(self) -> list[Attempt]:
        """The latest attempts of any message (at most :data:`RECENT_ATTEMPTS`), oldest first."""
        return list(self._recent)

    @property
    def tracked(self) -> int:
        """How many messages are tracked now."""
        return len(self._tracks)

    def add(self, attempt: Attempt) -> None:
        if attempt.error is not None and attempt.error.__traceback__ is not None:
            attempt = replace(attempt, error=_without_traceback(attempt.error))
        self._recent.append(attempt)
        tracks = {id(t): t for i in attempt.message_ids if (t := self._index.get(i)) is not None}
        for track in tracks.values():
            for new_id in track.take(attempt):
                self._index.setdefault(new_id, track)
        self._changed.set()

    def track(self, message_id: str) -> None:
        """Keep every attempt of *message_id* (and of the ids it leads to) until :meth:`untrack`.

        Attempts already in the recent window are taken over. Tracking the same id again counts
        one more holder; beyond :data:`TRACKED_MESSAGES` messages the least recently tracked one
        is no longer tracked (its later attempts are in the recent window only).
        """
        track = self._tracks.get(message_id)
        if track is not None:
            track.holders += 1
            self._tracks.move_to_end(message_id)
            return
        track = _Track(message_id, self._per_message)
        for attempt in self._recent:  # in order: an SNS id's attempt comes before its redrive
            if attempt.message_ids & track.ids:
                track.take(attempt)
        self._tracks[message_id] = track
        for known in track.ids:
            self._index.setdefault(known, track)
        while len(self._tracks) > self._tracked_limit:
            self._forget(*self._tracks.popitem(last=False))

    def untrack(self, message_id: str) -> None:
        """One holder of *message_id* no longer needs its attempts."""
        track = self._tracks.get(message_id)
        if track is None:
            return
        track.holders -= 1
        if track.holders <= 0:
            del self._tracks[message_id]
            self._forget(message_id, track)

    def _forget(self, message_id: str, track: _Track) -> None:
        for known in track.ids:
            if self._index.get(known) is track:
                del self._index[known]

    def for_message(self, message_id: str) -> list[Attempt]:
        """Attempts for a message, following its ids (an SNS id leads to its SQS copies' ids).

        All of them (up to :data:`ATTEMPTS_PER_MESSAGE`) for a tracked message; for another,
        those still in the recent window.
        """
        track = self._index.get(message_id)
        if track is not None:
            return list(track.attempts)
        ids = {message_id}
        while True:
            found = [a for a in self._recent if a.message_ids & ids]
            grown = ids.union(*(a.message_ids for a in found)) if found else ids
            if grown == ids:
                return found
            ids = grown

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until *predicate()* holds (checked on every new attempt) or *timeout* seconds pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True


def _without_traceback(error: BaseException) -> BaseException:
    """*error* without its traceback, cause or context: a copy, or (when it cannot be copied)
    the exception itself with those cleared. The handler's frames, and the message in them,
    are then no longer kept alive by the log."""
    try:
        clone = copy.copy(error)
    except Exception:  # an exception class whose constructor does not take its own args
        clone = None
    if type(clone) is type(error) and clone is not error:
        clone.__traceback__ = None
        clone.__cause__ = clone.__context__ = None
        return clone
    error.__traceback__ = None
    error.__cause__ = error.__context__ = None
    return error
