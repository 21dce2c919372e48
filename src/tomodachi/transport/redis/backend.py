"""What ``RedisQueueTransport`` needs from a broker: a small protocol, two implementations.

The transport (``transport.py``) owns the receive loop, the concurrency bound, settle decisions,
retries, reclaiming, trimming, readiness and the drain; a backend only moves entries between
streams and sorted sets:

- :class:`~tomodachi.transport.redis.redis_backend.RedisBackend`: redis-py (standalone, Cluster or
  Sentinel), every multi-key step one Lua script on keys of one hash slot;
- :class:`~tomodachi.transport.redis.memory.MemoryQueueBackend`: the in-memory model
  (``memory.py``), on the run's clock.

Both raise :class:`BackendUnavailable` while Redis cannot be reached; the transport then reports
"not ready" and tries again with a backoff.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BackendUnavailable",
    "DeadLetter",
    "Entry",
    "QueueBackend",
    "QueueKeys",
    "decode_headers",
    "encode_headers",
]


class BackendUnavailable(Exception):
    """Redis cannot be reached now (refused, lost, timed out, loading); try again later."""


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The Redis keys of one queue as one group sees it (all in the hash slot of ``{queue}``)."""

    stream: str
    """The queue's stream: ``<prefix>{<queue>}``; every group reads it."""
    delayed: str
    """Delayed enqueues (a sorted set by due time), moved into :attr:`stream` when due."""
    retry: str
    """This group's retries (a stream only this group reads)."""
    retry_delayed: str
    """This group's delayed retries (a sorted set), moved into :attr:`retry` when due."""
    dead: str
    """This group's dead letters (a stream)."""

    @classmethod
    def of(cls, prefix: str, queue: str, group: str) -> QueueKeys:
        stream = f"{prefix}{{{queue}}}"
        return cls(
            stream=stream,
            delayed=f"{stream}:delayed",
            retry=f"{stream}:retry:{group}",
            retry_delayed=f"{stream}:retry:{group}:delayed",
            dead=f"{stream}:dead:{group}",
        )


@dataclass(slots=True)  # not frozen: one is made per delivery, and a frozen init costs more
class Entry:
    """One delivery of a message to a consumer of a group."""

    stream: str
    """The stream it was read from (the queue's, or the group's retry stream): where it is acked."""
    stream_id: str
    message_id: str
    payload: str
    attempt: int
    """The delivery number: 1 on the first delivery, counting retries and reclaims."""
    enqueued_at: float
    """When it was first enqueued (seconds since the epoch)."""
    problem: str | None = None
    """Why the entry cannot be handled (not written by ``redis_enqueue``), else ``None``."""
    headers: str = ""
    """The message's headers (``traceparent``, ...) as compact JSON: the ``h`` field, ``""``: none."""


def encode_headers(headers: Mapping[str, str] | None) -> str:
    """The ``h`` field of *headers*: compact JSON, ``""`` when there are none (no field written)."""
    return json.dumps(headers, separators=(",", ":")) if headers else ""


def decode_headers(field: str) -> dict[str, str]:
    """The headers of an ``h`` field (``{}``: none, or not a JSON object of strings)."""
    if not field:
        return {}
    try:
        found = json.loads(field)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): str(v) for k, v in found.items()}


def new_fields(
    payload: str, message_id: str, enqueued_ms: int, headers: Mapping[str, str] | None
) -> dict[str, str]:
    """The fields of a message ``redis_enqueue`` writes (attempt 0: no delivery yet)."""
    fields = {"payload": payload, "id": message_id, "attempt": "0", "enqueued": str(enqueued_ms)}
    if headers:
        fields["h"] = encode_headers(headers)
    return fields


def entry_fields(entry: Entry) -> dict[str, str]:
    """The fields that carry *entry* on (a retry): its attempts so far count on."""
    fields = {
        "payload": entry.payload,
        "id": entry.message_id,
        "attempt": str(entry.attempt),
        "enqueued": str(int(entry.enqueued_at * 1000)),
    }
    if entry.headers:
        fields["h"] = entry.headers
    return fields


def dead_letter_fields(entry: Entry, group: str, *, reason: str, error: str) -> dict[str, str]:
    """The fields of *entry* in the group's dead-letter stream."""
    return {
        **entry_fields(entry),
        "reason": reason,
        "error": error,
        "from": entry.stream,
        "stream_id": entry.stream_id,
        "group": group,
    }


def entry_of(stream: str, stream_id: str, fields: Mapping[str, str], deliveries: int) -> Entry:
    """An :class:`Entry` from a stream entry's fields; one that ``redis_enqueue`` did not write
    (no ``payload``) has a ``problem``, so the transport dead-letters it with a reason."""
    payload = fields.get("payload")
    try:
        base = int(fields.get("attempt", "0"))
        enqueued = int(fields.get("enqueued", "0")) / 1000 or float(stream_id.partition("-")[0]) / 1000
    except ValueError:
        base, enqueued = 0, 0.0
    problem = None
    if payload is None:
        problem = f"malformed entry: no 'payload' field (fields: {', '.join(sorted(fields)) or 'none'})"
    return Entry(
        stream=stream,
        stream_id=stream_id,
        message_id=fields.get("id") or stream_id,
        payload=payload if payload is not None else json.dumps(dict(fields)),
        attempt=base + max(deliveries, 1),
        enqueued_at=enqueued,
        problem=problem,
        headers=fields.get("h", ""),
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry of a dead-letter stream."""

    stream_id: str
    message_id: str
    payload: str
    attempt: int
    reason: str
    error: str


class QueueBackend(Protocol):
    """A service's link to Redis (or the in-memory model) for its ``@redis_queue`` handlers."""

    #: Whether a blocked :meth:`read` may be cancelled (on stop). redis-py's blocking reads are
    #: not: the transport lets the read return (within ``redis.poll_interval``) instead.
    cancel_safe_reads: bool

    @property
    def ready(self) -> bool:
        """Whether Redis answered the last call (readiness)."""

    async def connect(self) -> None:
        """Check that Redis answers (``PING``)."""

    async def ensure_group(self, keys: QueueKeys, group: str) -> None:
        """Create *group* on the queue's and its retry stream (from the oldest entry) if missing."""

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
        """Add a message (after *delay* seconds: to the queue's delayed set), with *headers* (the
        ``h`` field, only if there are any); they stay with it through retries and dead letters."""

    async def read(
        self, keys: QueueKeys, group: str, consumer: str, count: int, block: float
    ) -> tuple[list[Entry], float | None]:
        """Move due delayed messages in, then read up to *count* new entries of the queue's and
        the group's retry stream, waiting up to *block* seconds. Also returns the seconds until
        the next delayed message of these keys is due (``None``: none is waiting)."""

    async def reclaim(
        self, keys: QueueKeys, group: str, consumer: str, min_idle: float, count: int
    ) -> list[Entry]:
        """Take over up to *count* entries other consumers left unacknowledged for *min_idle* s."""

    async def touch(self, group: str, consumer: str, entries: Sequence[Entry]) -> None:
        """Reset the idle time of entries still being handled (so nobody reclaims them)."""

    async def ack(self, group: str, entry: Entry) -> None: ...

    async def retry(self, keys: QueueKeys, group: str, entry: Entry, delay: float) -> None:
        """Deliver *entry* to this group again after *delay* seconds, and ack it: atomically."""

    async def dead_letter(
        self, keys: QueueKeys, group: str, entry: Entry, *, reason: str, error: str, maxlen: int | None
    ) -> None:
        """Add *entry* to the group's dead-letter stream and ack it: atomically."""

    async def trim(self, stream: str, *, forget_consumers_after: float = 3600.0) -> int:
        """Delete the entries of *stream* every group has acknowledged; returns how many. Also
        forgets consumers idle for *forget_consumers_after* seconds with nothing pending."""

    async def dead_letters(self, keys: QueueKeys, limit: int = 100) -> list[DeadLetter]:
        """The group's dead letters, oldest first (they stay)."""

    async def sleep(self, seconds: float) -> None:
        """Sleep on the backend's clock (the run's clock in memory)."""

    async def close(self) -> None: ...
