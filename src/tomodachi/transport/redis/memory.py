"""The in-memory model of the Redis queues: streams, consumer groups, pending entries, delays.

One :class:`MemoryRedis` per run (``memory_model(runtime, REDIS_FAMILY, ...)``), shared by its
services, behind :class:`MemoryQueueBackend` (the same :class:`~.backend.QueueBackend` protocol
as Redis). It models what the transport relies on:

- streams with increasing ids, ``MAXLEN`` (exact), trimming to the oldest entry a group needs;
- consumer groups that start at the oldest entry, each with its last delivered id and its
  pending entries (consumer, delivery count, idle time), so competing consumers, fan-out,
  acknowledgement and reclaiming by idle time (``XAUTOCLAIM``) behave as on Redis;
- delayed sets, moved into their streams when due.

Time is the run's clock (``tomodachi.clock.get_clock(runtime)``): on a ``ManualClock`` delays
and idle timeouts follow the manual clock, and a blocked read sleeps on it, so a test of a long
retry backoff takes no real time. ``model.available = False`` makes every call raise
:class:`~.backend.BackendUnavailable` (an outage).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tomodachi.clock import SYSTEM_CLOCK, Clock

from .backend import (
    BackendUnavailable,
    DeadLetter,
    Entry,
    QueueKeys,
    dead_letter_fields,
    entry_fields,
    entry_of,
    new_fields,
)

__all__ = ["MemoryQueueBackend", "MemoryRedis"]


@dataclass(slots=True)
class _Pending:
    consumer: str
    delivered_at: float
    count: int = 1


@dataclass(slots=True)
class _Group:
    last: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)


@dataclass(slots=True)
class _Stream:
    entries: dict[int, dict[str, str]] = field(default_factory=dict)
    groups: dict[str, _Group] = field(default_factory=dict)


def _sid(seq: int) -> str:
    return f"{seq}-0"


def _seq(stream_id: str) -> int:
    return int(stream_id.partition("-")[0])


class MemoryRedis:
    """The streams and delayed sets of a run (see the module docstring)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.streams: dict[str, _Stream] = {}
        #: Delayed sets: key -> [(due on the clock's monotonic time, order, fields)].
        self.delayed: dict[str, list[tuple[float, int, dict[str, str]]]] = {}
        self.available = True
        self._ids = itertools.count(1)
        self._order = itertools.count()
        self.waiters: set[asyncio.Event] = set()

    def check(self) -> None:
        if not self.available:
            raise BackendUnavailable("the in-memory Redis model is unavailable (model.available = False)")

    def now(self) -> float:
        return self.clock.monotonic()

    def stream(self, key: str) -> _Stream:
        found = self.streams.get(key)
        if found is None:
            found = self.streams[key] = _Stream()
        return found

    def add(self, key: str, fields: dict[str, str], maxlen: int | None = None) -> str:
        stream = self.stream(key)
        seq = next(self._ids)
        stream.entries[seq] = fields
        if maxlen is not None:
            while len(stream.entries) > maxlen:
                del stream.entries[next(iter(stream.entries))]
        self.wake()
        return _sid(seq)

    def delay(self, key: str, seconds: float, fields: dict[str, str]) -> None:
        self.delayed.setdefault(key, []).append((self.now() + seconds, next(self._order), fields))
        self.delayed[key].sort()
        self.wake()

    def promote(self, pairs: Sequence[tuple[str, str]], maxlen: int | None) -> float | None:
        """Move due members into their streams; seconds until the next one is due (or None)."""
        now, next_due = self.now(), None
        for zkey, skey in pairs:
            items = self.delayed.get(zkey, [])
            while items and items[0][0] <= now:
                _, _, fields = items.pop(0)
                self.add(skey, fields, maxlen)
            if items:
                wait = max(items[0][0] - now, 0.0)
                next_due = wait if next_due is None else min(next_due, wait)
        return next_due

    def wake(self) -> None:
        for waiter in self.waiters:
            waiter.set()


class MemoryQueueBackend:
    """A :class:`~.backend.QueueBackend` on :class:`MemoryRedis`."""

    cancel_safe_reads = True

    def __init__(self, model: MemoryRedis, maxlen: int | None = None) -> None:
        self.model = model
        self.maxlen = maxlen

    @property
    def ready(self) -> bool:
        return self.model.available

    async def connect(self) -> None:
        self.model.check()

    async def ensure_group(self, keys: QueueKeys, group: str) -> None:
        self.model.check()
        for key in (keys.stream, keys.retry):
            self.model.stream(key).groups.setdefault(group, _Group())

    async def enqueue(
        self,
        stream: str,
        payload: str,
        *,
        message_id: str,
        delay: float,
        maxlen: int | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.model.check()
        fields = new_fields(payload, message_id, int(time.time() * 1000), headers)
        if delay > 0:
            self.model.delay(f"{stream}:delayed", delay, fields)
        else:
            self.model.add(stream, fields, maxlen)

    def _take(self, keys: QueueKeys, group: str, consumer: str, count: int) -> list[Entry]:
        entries: list[Entry] = []
        now = self.model.now()
        for key in (keys.stream, keys.retry):
            stream = self.model.stream(key)
            state = stream.groups.setdefault(group, _Group())
            for seq in list(stream.entries):
                if len(entries) >= count:
                    return entries
                if seq <= state.last:
                    continue
                state.last = seq
                state.pending[seq] = _Pending(consumer, now)
                entries.append(entry_of(key, _sid(seq), stream.entries[seq], 1))
        return entries

    async def read(
        self, keys: QueueKeys, group: str, consumer: str, count: int, block: float
    ) -> tuple[list[Entry], float | None]:
        model = self.model
        model.check()
        pairs = ((keys.delayed, keys.stream), (keys.retry_delayed, keys.retry))
        next_due = model.promote(pairs, self.maxlen)
        entries = self._take(keys, group, consumer, count)
        if entries:
            return entries, next_due
        # No polling in memory: every change wakes the readers, so wait for one or the next due
        # time (on a ManualClock a long retry delay is then one step of the clock, not many).
        await self._wait(next_due)
        model.check()
        next_due = model.promote(pairs, self.maxlen)
        return self._take(keys, group, consumer, count), next_due

    async def _wait(self, timeout: float | None) -> None:  # noqa: ASYNC109 - a deadline, not a cancel scope
        # A wake-up (an enqueue), or *timeout* on the run's clock (a ManualClock sees the sleeper).
        wake = asyncio.Event()
        self.model.waiters.add(wake)
        woken = asyncio.ensure_future(wake.wait())
        if timeout is None:
            try:
                await woken
            finally:
                self.model.waiters.discard(wake)
            return
        slept = asyncio.ensure_future(self.model.clock.sleep(timeout))
        try:
            await asyncio.wait((woken, slept), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.model.waiters.discard(wake)
            woken.cancel()
            slept.cancel()
            await asyncio.gather(woken, slept, return_exceptions=True)

    async def reclaim(
        self, keys: QueueKeys, group: str, consumer: str, min_idle: float, count: int
    ) -> list[Entry]:
        self.model.check()
        now = self.model.now()
        found: list[Entry] = []
        for key in (keys.stream, keys.retry):
            stream = self.model.stream(key)
            state = stream.groups.get(group)
            if state is None:
                continue
            for seq, pending in sorted(state.pending.items()):
                if len(found) >= count:
                    return found
                if now - pending.delivered_at < min_idle:
                    continue
                fields = stream.entries.get(seq)
                if fields is None:  # trimmed away while pending (Redis drops it from the PEL too)
                    del state.pending[seq]
                    continue
                pending.consumer, pending.delivered_at, pending.count = consumer, now, pending.count + 1
                found.append(entry_of(key, _sid(seq), fields, pending.count))
        return found

    async def touch(self, group: str, consumer: str, entries: Sequence[Entry]) -> None:
        self.model.check()
        now = self.model.now()
        for entry in entries:
            state = self.model.stream(entry.stream).groups.get(group)
            pending = state.pending.get(_seq(entry.stream_id)) if state is not None else None
            if pending is not None:
                pending.consumer, pending.delivered_at = consumer, now

    def _ack(self, group: str, entry: Entry) -> bool:
        self.model.check()
        state = self.model.stream(entry.stream).groups.get(group)
        return state is not None and state.pending.pop(_seq(entry.stream_id), None) is not None

    async def ack(self, group: str, entry: Entry) -> None:
        self._ack(group, entry)

    async def retry(self, keys: QueueKeys, group: str, entry: Entry, delay: float) -> None:
        if not self._ack(group, entry):
            return
        fields = entry_fields(entry)
        if delay > 0:
            self.model.delay(keys.retry_delayed, delay, fields)
        else:
            self.model.add(keys.retry, fields, self.maxlen)

    async def dead_letter(
        self, keys: QueueKeys, group: str, entry: Entry, *, reason: str, error: str, maxlen: int | None
    ) -> None:
        if not self._ack(group, entry):
            return
        self.model.add(keys.dead, dead_letter_fields(entry, group, reason=reason, error=error), maxlen)

    async def trim(self, stream: str, *, forget_consumers_after: float = 3600.0) -> int:
        self.model.check()
        found = self.model.streams.get(stream)
        if found is None or not found.groups:
            return 0
        needed = min(
            min(state.pending) if state.pending else state.last + 1 for state in found.groups.values()
        )
        old = [seq for seq in found.entries if seq < needed]
        for seq in old:
            del found.entries[seq]
        return len(old)

    async def dead_letters(self, keys: QueueKeys, limit: int = 100) -> list[DeadLetter]:
        self.model.check()
        stream = self.model.streams.get(keys.dead)
        if stream is None:
            return []
        return [
            DeadLetter(
                stream_id=_sid(seq),
                message_id=fields.get("id", ""),
                payload=fields.get("payload", ""),
                attempt=int(fields.get("attempt", "0") or 0),
                reason=fields.get("reason", ""),
                error=fields.get("error", ""),
            )
            for seq, fields in list(stream.entries.items())[:limit]
        ]

    async def sleep(self, seconds: float) -> None:
        await self.model.clock.sleep(seconds)

    async def close(self) -> None:
        """Nothing to release: the model is the run's."""
