"""The Redis backend of ``@tomodachi.redis_queue``: redis-py asyncio, standalone, Cluster or Sentinel.

Data layout (``docs/redis.md``): per queue a stream ``<prefix>{<queue>}`` that every group reads
and a sorted set ``...:delayed`` of delayed enqueues; per queue and group a retry stream
``...:retry:<group>``, its sorted set ``...:retry:<group>:delayed`` and a dead-letter stream
``...:dead:<group>``. The queue name is a hash tag, so on a Cluster all keys of a queue live in
one slot and every multi-key step is one Lua script, atomic:

- ``scripts.PROMOTE``: move due members of delayed sets into their streams (Redis's ``TIME``, so the
  clocks of producers and consumers do not matter);
- ``scripts.RETRY``: ``XACK`` the delivery and, if it was still pending, add it to the group's retry
  stream (or its delayed set);
- ``scripts.DEAD``: the same into the dead-letter stream;
- ``scripts.RECLAIM``: ``XAUTOCLAIM`` plus each entry's delivery count (``XPENDING``): the attempt;
- ``scripts.TRIM``: ``XTRIM MINID`` to the oldest entry some group still needs.

redis-py is imported only here: a service on the in-memory broker does not need it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

import tomodachi
from tomodachi.errors import mask_url_credentials

from . import scripts
from .backend import (
    BackendUnavailable,
    DeadLetter,
    Entry,
    QueueKeys,
    dead_letter_fields,
    encode_headers,
    entry_of,
    new_fields,
)
from .options import RedisOptions

__all__ = ["RedisBackend", "make_client", "shared_client"]

T = TypeVar("T")

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # also BusyLoadingError, MasterNotFoundError
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a failed-over master that is a replica now
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
    OSError,
    TimeoutError,
)


def _connection_kwargs(settings: RedisOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "decode_responses": True,
        "client_name": settings.client_name,
        "socket_timeout": float(settings.socket_timeout),
        "socket_connect_timeout": float(settings.connect_timeout),
        "socket_keepalive": True,
    }
    if settings.password is not None:
        kwargs["password"] = settings.password
    if settings.tls.enabled or str(settings.url).startswith("rediss://"):
        kwargs["ssl_ca_certs"] = settings.tls.ca_certs
        kwargs["ssl_certfile"] = settings.tls.certfile
        kwargs["ssl_keyfile"] = settings.tls.keyfile
        kwargs["ssl_cert_reqs"] = "required" if settings.tls.verify else "none"
        kwargs["ssl_check_hostname"] = bool(settings.tls.verify)
    return kwargs


def _tls_url(settings: RedisOptions) -> str:
    url = str(settings.url)
    if settings.tls.enabled and url.startswith("redis://"):
        return "rediss://" + url.removeprefix("redis://")
    return url


def make_client(settings: RedisOptions) -> Any:
    """A redis-py asyncio client for *settings*: one pool (per node), connecting lazily."""
    kwargs = _connection_kwargs(settings)
    size = settings.pool.size
    if settings.mode == "cluster":
        from redis.asyncio.cluster import RedisCluster

        if "ssl_ca_certs" in kwargs:
            kwargs["ssl"] = True
        return RedisCluster.from_url(_tls_url(settings), max_connections=size, **kwargs)
    if settings.mode == "sentinel":
        from redis.asyncio.sentinel import Sentinel

        if "ssl_ca_certs" in kwargs:
            kwargs["ssl"] = True
        nodes = [(host, int(port)) for host, _, port in (s.rpartition(":") for s in settings.sentinels)]
        sentinel_kwargs = {k: v for k, v in kwargs.items() if k in ("password", "socket_timeout")}
        sentinel = Sentinel(nodes, sentinel_kwargs=sentinel_kwargs, **kwargs)
        return sentinel.master_for(settings.sentinel_master, max_connections=size)
    pool = aioredis.BlockingConnectionPool.from_url(
        _tls_url(settings), max_connections=size, timeout=float(settings.pool.timeout), **kwargs
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


async def _close_client(client: Any) -> None:
    await client.aclose()


def shared_client(runtime: tomodachi.Runtime, settings: RedisOptions) -> Any:
    """The run's client for these connection settings (a run resource, closed with the run)."""
    key = (
        "tomodachi.redis.client",
        str(settings.url),
        settings.password,
        settings.mode,
        tuple(settings.sentinels),
        settings.sentinel_master,
        settings.client_name,
        settings.pool.size,
        float(settings.pool.timeout),
        float(settings.socket_timeout),
        float(settings.connect_timeout),
        settings.tls.enabled,
        settings.tls.ca_certs,
        settings.tls.certfile,
        settings.tls.keyfile,
        settings.tls.verify,
    )
    return runtime.resource(key, lambda: make_client(settings), _close_client)


def _fields(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return raw  # decode_responses: already str keys and values
    items = list(raw or [])
    return {str(items[i]): str(items[i + 1]) for i in range(0, len(items) - 1, 2)}


#: One enqueue waiting for its round trip: stream, fields, maxlen, its outcome.
_Add = tuple[str, dict[str, str], int | None, "asyncio.Future[None]"]


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a batch's exception as seen (its waiters may all have been cancelled)."""
    if not future.cancelled():
        future.exception()


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


class RedisBackend:
    """A :class:`~.backend.QueueBackend` on redis-py (see the module docstring)."""

    #: Cancelling a blocked ``XREADGROUP`` can leave redis-py's connection cleanup waiting.
    cancel_safe_reads = False

    def __init__(self, client: Any, settings: RedisOptions) -> None:
        self.client = client
        self.settings = settings
        self._ready = False
        #: Per queue stream: when (event loop time) to look for due delayed messages next. Every
        #: ``poll_interval`` at least (other processes' delays), sooner for what this one delayed.
        self._promote_at: dict[str, float] = {}
        #: Acks made in this turn of the loop, per (stream, group): their ids and one outcome.
        self._acks: dict[tuple[str, str], tuple[list[str], asyncio.Future[None]]] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        #: Enqueues made in this turn of the loop, each with its own outcome.
        self._adds: list[_Add] = []
        self._promote = client.register_script(scripts.PROMOTE)
        self._delay = client.register_script(scripts.DELAY)
        self._retry = client.register_script(scripts.RETRY)
        self._dead = client.register_script(scripts.DEAD)
        self._reclaim = client.register_script(scripts.RECLAIM)
        self._trim = client.register_script(scripts.TRIM)

    @property
    def ready(self) -> bool:
        return self._ready

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await call()
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from None
        self._ready = True
        return result

    def _unavailable(self, exc: BaseException) -> BackendUnavailable:
        self._ready = False
        return BackendUnavailable(mask_url_credentials(f"{type(exc).__name__}: {exc}"))

    async def connect(self) -> None:
        await self._call(lambda: self.client.ping())

    async def ensure_group(self, keys: QueueKeys, group: str) -> None:
        for stream in (keys.stream, keys.retry):
            try:
                await self._call(lambda s=stream: self.client.xgroup_create(s, group, id="0", mkstream=True))  # type: ignore[misc]
            except redis_errors.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

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
        enqueued = str(int(time.time() * 1000))
        if delay > 0:
            delayed = {"p": payload, "i": message_id, "a": "0", "e": enqueued}
            if headers:
                delayed["h"] = encode_headers(headers)
            member = json.dumps(delayed)
            ms = max(int(delay * 1000), 1)
            await self._call(lambda: self._delay(keys=[f"{stream}:delayed"], args=[ms, member]))
            return
        fields = new_fields(payload, message_id, int(enqueued), headers)
        # With the other enqueues of this turn of the event loop: one round trip (a pipeline, no
        # transaction); each caller returns once Redis has added its own entry.
        loop = asyncio.get_running_loop()
        if not self._adds:
            loop.call_soon(self._flush_adds)
        added: asyncio.Future[None] = loop.create_future()
        added.add_done_callback(_retrieve)
        self._adds.append((stream, fields, maxlen, added))
        await asyncio.shield(added)

    def _flush_adds(self) -> None:
        adds, self._adds = self._adds, []
        task = asyncio.ensure_future(self._send_adds(adds))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _send_adds(self, adds: list[_Add]) -> None:
        try:
            if len(adds) == 1:
                stream, fields, maxlen, _ = adds[0]
                results: list[Any] = [await self.client.xadd(stream, fields, maxlen=maxlen, approximate=True)]
            else:
                pipe = self.client.pipeline(transaction=False)
                for stream, fields, maxlen, _ in adds:
                    pipe.xadd(stream, fields, maxlen=maxlen, approximate=True)
                results = await pipe.execute(raise_on_error=False)
        except _UNAVAILABLE as exc:
            error: BaseException = self._unavailable(exc)
            results = [error] * len(adds)
        except Exception as exc:
            results = [exc] * len(adds)
        else:
            self._ready = True
        for (*_, added), result in zip(adds, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, _UNAVAILABLE):
                    result = self._unavailable(result)
                added.set_exception(result)
            else:
                added.set_result(None)

    async def read(
        self, keys: QueueKeys, group: str, consumer: str, count: int, block: float
    ) -> tuple[list[Entry], float | None]:
        now = asyncio.get_running_loop().time()
        next_due: float | None = None
        if self._promote_at.get(keys.stream, 0.0) <= now:
            _moved, next_due_ms = await self._call(
                lambda: self._promote(
                    keys=[keys.delayed, keys.stream, keys.retry_delayed, keys.retry],
                    args=[max(count, 100), _opt(self.settings.maxlen)],
                )
            )
            next_due = None if int(next_due_ms) < 0 else int(next_due_ms) / 1000
            wait = float(self.settings.poll_interval) if next_due is None else min(next_due, block)
            self._promote_at[keys.stream] = now + wait
        block = min(block, max(self._promote_at[keys.stream] - now, 0.001))
        streams = {keys.stream: ">", keys.retry: ">"}
        try:
            response = await self._call(
                lambda: self.client.xreadgroup(
                    group,
                    consumer,
                    streams,
                    count=count,
                    block=max(int(block * 1000), 1),
                )
            )
        except redis_errors.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group(keys, group)  # Redis restarted empty, or the stream was deleted
            return [], next_due
        entries: list[Entry] = []
        items = response.items() if isinstance(response, dict) else (response or [])
        for stream, stream_entries in items:
            if isinstance(stream_entries, list) and stream_entries and isinstance(stream_entries[0], list):
                stream_entries = stream_entries[0]  # RESP3 dict values are wrapped in a list
            for stream_id, raw in stream_entries:
                entries.append(entry_of(str(stream), str(stream_id), _fields(raw), 1))
        return entries, next_due

    async def reclaim(
        self, keys: QueueKeys, group: str, consumer: str, min_idle: float, count: int
    ) -> list[Entry]:
        found: list[Entry] = []
        for stream in (keys.stream, keys.retry):
            if len(found) >= count:
                break
            try:
                rows = await self._call(
                    lambda s=stream: self._reclaim(  # type: ignore[misc]
                        keys=[s], args=[group, consumer, max(int(min_idle * 1000), 1), count - len(found)]
                    )
                )
            except redis_errors.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self.ensure_group(keys, group)
                continue
            for stream_id, raw, deliveries in rows:
                found.append(entry_of(stream, str(stream_id), _fields(raw), int(deliveries)))
        return found

    async def touch(self, group: str, consumer: str, entries: Sequence[Entry]) -> None:
        by_stream: dict[str, list[str]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.stream_id)
        for stream, ids in by_stream.items():
            await self._call(
                lambda s=stream, i=ids: self.client.xclaim(s, group, consumer, 0, i, justid=True)  # type: ignore[misc]
            )

    async def ack(self, group: str, entry: Entry) -> None:
        """``XACK``, in one command with the other acks of the same stream and group made in the
        same turn of the event loop (each still only after its own handler returned)."""
        key = (entry.stream, group)
        batch = self._acks.get(key)
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._acks[key] = ([], loop.create_future())
            batch[1].add_done_callback(_retrieve)
            loop.call_soon(self._flush_acks, key)
        batch[0].append(entry.stream_id)
        await asyncio.shield(batch[1])  # a cancelled waiter leaves the others' ack alone

    def _flush_acks(self, key: tuple[str, str]) -> None:
        ids, done = self._acks.pop(key)
        task = asyncio.ensure_future(self._send_acks(key, ids, done))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _send_acks(self, key: tuple[str, str], ids: list[str], done: asyncio.Future[None]) -> None:
        try:
            await self.client.xack(key[0], key[1], *ids)
        except _UNAVAILABLE as exc:
            done.set_exception(self._unavailable(exc))
        except Exception as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)

    async def retry(self, keys: QueueKeys, group: str, entry: Entry, delay: float) -> None:
        args = [
            group,
            entry.stream_id,
            int(delay * 1000),
            entry.payload,
            entry.message_id,
            entry.attempt,
            int(entry.enqueued_at * 1000),
            _opt(self.settings.maxlen),
            entry.headers,
        ]
        await self._call(lambda: self._retry(keys=[entry.stream, keys.retry, keys.retry_delayed], args=args))
        if delay > 0:  # look for it when it is due (this process's read loop, at least)
            due = asyncio.get_running_loop().time() + delay
            self._promote_at[keys.stream] = min(self._promote_at.get(keys.stream, due), due)

    async def dead_letter(
        self, keys: QueueKeys, group: str, entry: Entry, *, reason: str, error: str, maxlen: int | None
    ) -> None:
        fields = dead_letter_fields(entry, group, reason=reason, error=error)
        args: list[Any] = [group, entry.stream_id, _opt(maxlen)]
        for key, value in fields.items():
            args.extend((key, value))
        await self._call(lambda: self._dead(keys=[entry.stream, keys.dead], args=args))

    async def trim(self, stream: str, *, forget_consumers_after: float = 3600.0) -> int:
        idle_ms = max(int(forget_consumers_after * 1000), 1)
        return int(await self._call(lambda: self._trim(keys=[stream], args=[idle_ms])))

    async def dead_letters(self, keys: QueueKeys, limit: int = 100) -> list[DeadLetter]:
        rows = await self._call(lambda: self.client.xrange(keys.dead, count=limit))
        letters = []
        for stream_id, raw in rows:
            fields = _fields(raw)
            letters.append(
                DeadLetter(
                    stream_id=str(stream_id),
                    message_id=fields.get("id", ""),
                    payload=fields.get("payload", ""),
                    attempt=int(fields.get("attempt", "0") or 0),
                    reason=fields.get("reason", ""),
                    error=fields.get("error", ""),
                )
            )
        return letters

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        """Let acks on their way finish (the client is the run's, closed with it)."""
        if self._flushes:
            await asyncio.wait(list(self._flushes), timeout=float(self.settings.socket_timeout))
