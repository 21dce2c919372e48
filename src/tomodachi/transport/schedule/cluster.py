"""Cluster-safe schedules: each due time is claimed once in a store every replica shares.

A claim is keyed by (service name, function name, due time). The first replica to claim a due
time runs it; the others find the claim and skip it. A claim is kept for
``2 × schedule.max_clock_skew + 10`` seconds of the *store's* clock (Redis ``PX``, PostgreSQL
``now()``, the run's clock in memory), so a replica whose clock is late by up to the bound finds
it still there. A replica's claim must be answered by the due time plus ``max_clock_skew`` by its
own clock (else the due time is skipped: a blocked loop, a suspended machine, a slow store), so
every claim of a due time reaches the store within ``2 × max_clock_skew`` of the first one.

The guarantee is **at most once per due time**: a due time is run by the one replica that
claimed it; when the store cannot be reached (a partition, an outage) the replica skips the due
time with a WARNING instead of running it unclaimed. A run that crashes is not retried; the next
due time is claimed by whoever gets there first.

Each claim carries a fencing token: an integer that grows with every claim of the function
(Redis ``INCR`` in the claiming script, a PostgreSQL sequence, a counter in memory). A function
that declares ``lease`` receives the :class:`Lease` (``lease.token``, ``await lease.still_held()``)
and can hand the token to what it writes, so a store can refuse a write from an older holder.

Stores (the small :class:`LeaseStore` protocol):

- :class:`MemoryLeaseStore`: per run (``Runtime.resource``), on the run's clock; for tests;
- :class:`RedisLeaseStore`: one Lua script per claim on the run's redis-py client of the
  ``redis.*`` options (the client ``@redis_queue`` uses);
- :class:`PostgresLeaseStore`: ``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE expired`` into
  a small claims table (created if missing), on an asyncpg pool of the run.

``docs/schedule.md#cluster-safe-schedules`` documents the guarantees, the skew bound and the
store layouts.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tomodachi.clock import Clock, get_clock
from tomodachi.errors import ConfigurationError

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime

__all__ = [
    "STORES",
    "Lease",
    "LeaseStore",
    "MemoryLeaseStore",
    "PostgresLeaseStore",
    "RedisLeaseStore",
    "StoreUnavailable",
    "claim_seconds",
    "memory_store",
    "store_for",
]

#: The values of ``cluster=`` / ``schedule.cluster`` that name a store.
STORES = ("redis", "postgres", "memory")


class StoreUnavailable(Exception):
    """The lease store cannot be reached now; the due time is skipped (at most once)."""


def claim_seconds(max_clock_skew: float) -> float:
    """How long a claim is kept: ``2 × max_clock_skew + 10`` seconds."""
    return 2.0 * max_clock_skew + 10.0


def _iso(moment: datetime) -> str:
    # To the microsecond: two due times of one function never share a claim.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Lease:
    """The claim of one due time of one scheduled function, given to it as ``lease``.

    ``token`` is the fencing token: it grows with every claim of the function, so the storage
    the function writes to can refuse a write carrying a smaller token than one it has seen.
    """

    store: LeaseStore = field(repr=False)
    service: str
    function: str
    due: datetime
    token: int

    async def still_held(self) -> bool:
        """Whether the claim is still in the store with this token (not expired, not taken).

        ``False`` also when the store cannot be reached.
        """
        try:
            return await self.store.holds(self)
        except StoreUnavailable:
            return False


class LeaseStore(Protocol):
    """Where due times are claimed; every replica of a service must use the same one."""

    name: str

    async def claim(self, service: str, function: str, due: datetime, keep: float) -> Lease | None:
        """Claim *due* for *keep* seconds: a :class:`Lease`, or ``None`` when it is already
        claimed. Raises :class:`StoreUnavailable` when the store cannot be reached."""
        ...

    async def holds(self, lease: Lease) -> bool:
        """Whether *lease* is still the live claim of its due time."""
        ...


# -- in memory -----------------------------------------------------------------------------------
class MemoryLeaseStore:
    """The in-process store, on the run's clock; ``unreachable = True`` simulates an outage."""

    name = "memory"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.unreachable = False
        self.claims: dict[tuple[str, str, datetime], tuple[int, datetime]] = {}
        self._tokens: dict[tuple[str, str], int] = {}

    def _check(self) -> None:
        if self.unreachable:
            raise StoreUnavailable("the in-memory lease store is marked unreachable")

    async def claim(self, service: str, function: str, due: datetime, keep: float) -> Lease | None:
        self._check()
        now = self.clock.now()
        for key in [k for k, (_, expires) in self.claims.items() if expires <= now]:
            del self.claims[key]
        key = (service, function, due)
        if key in self.claims:
            return None
        token = self._tokens.get((service, function), 0) + 1
        self._tokens[(service, function)] = token
        self.claims[key] = (token, now + timedelta(seconds=keep))
        return Lease(self, service, function, due, token)

    async def holds(self, lease: Lease) -> bool:
        self._check()
        held = self.claims.get((lease.service, lease.function, lease.due))
        return held is not None and held[0] == lease.token and held[1] > self.clock.now()


def memory_store(runtime: Runtime) -> MemoryLeaseStore:
    """The run's in-memory lease store (shared by the services of the run)."""
    return runtime.resource(
        ("tomodachi.schedule.leases", "memory"), lambda: MemoryLeaseStore(get_clock(runtime))
    )


# -- Redis ---------------------------------------------------------------------------------------
# KEYS: the due time's claim, the function's fencing counter. ARGV: keep ms.
# SET NX with the token as value, the token from INCR: one atomic step on Redis's own clock.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
"""


class RedisLeaseStore:
    """Claims as Redis keys: ``<redis.key_prefix>schedule:{<service>:<function>}:<due time>``.

    The value is the fencing token, from ``<redis.key_prefix>schedule:{<service>:<function>}:token``
    (``INCR``). The hash tag keeps both keys of a function in one slot on a Cluster.
    """

    name = "redis"

    def __init__(self, client: Any, key_prefix: str) -> None:
        self.client = client
        self.prefix = f"{key_prefix}schedule:"
        self._script: Any = None

    def _keys(self, service: str, function: str) -> str:
        return f"{self.prefix}{{{service}:{function}}}"

    def key(self, service: str, function: str, due: datetime) -> str:
        """The claim key of *due*."""
        return f"{self._keys(service, function)}:{_iso(due)}"

    async def _call(self, coro: Any) -> Any:
        from redis import exceptions as redis_errors

        try:
            return await coro
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        except redis_errors.RedisError as exc:  # read-only replica, cluster down, ...
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def claim(self, service: str, function: str, due: datetime, keep: float) -> Lease | None:
        if self._script is None:
            self._script = self.client.register_script(_CLAIM)
        keys = [self.key(service, function, due), f"{self._keys(service, function)}:token"]
        token = int(await self._call(self._script(keys=keys, args=[max(int(keep * 1000), 1)])))
        return Lease(self, service, function, due, token) if token else None

    async def holds(self, lease: Lease) -> bool:
        value = await self._call(self.client.get(self.key(lease.service, lease.function, lease.due)))
        if isinstance(value, bytes):
            value = value.decode()
        return value is not None and str(value) == str(lease.token)


# -- PostgreSQL ----------------------------------------------------------------------------------
class PostgresLeaseStore:
    """Claims as rows of ``schedule.postgres_table`` (default ``tomodachi_schedule_runs``)::

        service text, function text, due_at timestamptz,   -- the primary key
        token bigint (from <table>_token_seq), holder text,
        claimed_at timestamptz, expires_at timestamptz     -- the database's now()

    A claim inserts the row, or takes over an expired one; rows expired for an hour are pruned
    (at most once a minute per replica). The table and sequence are created if missing.
    """

    name = "postgres"

    def __init__(self, dsn: str | None, table: str) -> None:
        self.dsn = dsn
        self.table = table
        self._pool: Any = None
        self._lock = asyncio.Lock()
        self._pruned = 0.0
        self._holder = f"{socket.gethostname()}:{os.getpid()}"

    async def _ready(self) -> Any:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                import asyncpg

                pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4, timeout=5)
                try:
                    async with pool.acquire() as conn, conn.transaction():
                        # Replicas starting together: one creates, the others wait and find it.
                        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.table)
                        await conn.execute(
                            f"CREATE SEQUENCE IF NOT EXISTS {self.table}_token_seq;"
                            f"CREATE TABLE IF NOT EXISTS {self.table} ("
                            " service text NOT NULL, function text NOT NULL, due_at timestamptz NOT NULL,"
                            f" token bigint NOT NULL DEFAULT nextval('{self.table}_token_seq'),"
                            " holder text NOT NULL, claimed_at timestamptz NOT NULL DEFAULT now(),"
                            " expires_at timestamptz NOT NULL,"
                            " PRIMARY KEY (service, function, due_at))"
                        )
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    async def _run(self, query: str, *args: Any) -> Any:
        import asyncpg

        try:
            pool = await self._ready()
            return await pool.fetchval(query, *args, timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailable(f"postgres: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreUnavailable(f"postgres: {exc}") from exc

    async def claim(self, service: str, function: str, due: datetime, keep: float) -> Lease | None:
        token = await self._run(
            f"INSERT INTO {self.table} AS t (service, function, due_at, holder, expires_at)"
            " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))"
            " ON CONFLICT (service, function, due_at) DO UPDATE"
            f" SET token = nextval('{self.table}_token_seq'), holder = excluded.holder,"
            " claimed_at = now(), expires_at = excluded.expires_at"
            " WHERE t.expires_at <= now()"
            " RETURNING token",
            service,
            function,
            due,
            self._holder,
            float(keep),
        )
        if time.monotonic() - self._pruned > 60:
            self._pruned = time.monotonic()
            await self._run(f"DELETE FROM {self.table} WHERE expires_at < now() - interval '1 hour'")
        return Lease(self, service, function, due, int(token)) if token is not None else None

    async def holds(self, lease: Lease) -> bool:
        found = await self._run(
            f"SELECT 1 FROM {self.table} WHERE service = $1 AND function = $2 AND due_at = $3"
            " AND token = $4 AND expires_at > now()",
            lease.service,
            lease.function,
            lease.due,
            lease.token,
        )
        return found is not None

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


# -- choosing ------------------------------------------------------------------------------------
def store_for(runtime: Runtime, service: Any, name: str) -> LeaseStore:
    """The run's lease store *name* (``redis``, ``postgres`` or ``memory``) for *service*.

    A run on the in-memory broker (``--message-broker memory``, ``tomodachi.testing``) uses the
    in-memory store for every name.
    """
    if name == "memory" or runtime.message_broker == "memory":
        return memory_store(runtime)
    _require("redis.asyncio" if name == "redis" else "asyncpg", name)
    if name == "redis":
        from tomodachi.transport.redis.options import settings_of
        from tomodachi.transport.redis.redis_backend import shared_client

        settings = settings_of(service)
        client = shared_client(runtime, settings)
        return runtime.resource(
            ("tomodachi.schedule.leases", "redis", id(client), settings.key_prefix),
            lambda: RedisLeaseStore(client, settings.key_prefix),
        )
    options = service.options.schedule
    dsn, table = options.postgres_dsn, options.postgres_table
    return runtime.resource(
        ("tomodachi.schedule.leases", "postgres", dsn, table),
        lambda: PostgresLeaseStore(dsn, table),
        PostgresLeaseStore.close,
    )


def _require(module: str, store: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        raise ConfigurationError(
            f"the {store} lease store of cluster-safe schedules needs {module.partition('.')[0]}: "
            f'pip install "tomodachi[{store}]"'
        ) from None
