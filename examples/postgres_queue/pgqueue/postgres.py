"""The PostgreSQL store: one table of jobs, claimed with ``FOR UPDATE SKIP LOCKED``.

- A job is a row: ``state`` is ``ready``, ``running`` (claimed until ``locked_until``) or
  ``dead``; ``run_at`` is when it becomes runnable (delays, retry delays). Handled (and dropped)
  jobs are deleted; dead jobs stay, with ``last_error``.
- A claim takes the oldest runnable rows no other transaction holds (``SKIP LOCKED``), so any
  number of consumers share a queue and each job runs once. A ``running`` row whose lock expired
  (its consumer died) is runnable again.
- An enqueue sends ``NOTIFY <table>, '<queue>'``; each store ``LISTEN``s on its own connection
  and wakes its consumer. The transport still looks for due jobs at least every
  ``poll_interval`` (and exactly when the next delayed job is due).
- The pool is one per DSN per run, a run-scoped resource (:meth:`SharedPool.of`).

``asyncpg`` is imported lazily: a service that runs on the in-memory store does not need it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import tomodachi
from tomodachi.errors import ConfigurationError

from .settings import PgQueueOptions
from .store import Job, StoreUnavailable

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresJobStore", "SharedPool"]

_CLOSE_TIMEOUT = 5.0


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "@pg_queue needs asyncpg: pip install asyncpg (or set pg_queue.broker = 'memory')"
        ) from None
    return asyncpg


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    asyncpg = _asyncpg()
    return (
        OSError,
        TimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.OperatorInterventionError,  # the server shuts down, or killed us
        asyncpg.exceptions.CannotConnectNowError,
    )


class SharedPool:
    """The connection pool of one DSN, shared by every service of a run and closed once."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, runtime: tomodachi.Runtime, dsn: str) -> SharedPool:
        # The factory does no I/O: the pool is created on first use, in get().
        return runtime.resource(("pgqueue.pool", dsn), lambda: cls(dsn), cls.close)

    async def get(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                # min_size=0: connections are made when needed, so an outage at start-up (or
                # later) costs a failed acquire, and the pool recovers by itself.
                self._pool = await _asyncpg().create_pool(self.dsn, min_size=0, max_size=10)
            return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT)
            except TimeoutError:
                pool.terminate()


class PostgresJobStore:
    """A :class:`~.store.JobStore` on a PostgreSQL table (see the module docstring)."""

    def __init__(self, pool: SharedPool, settings: PgQueueOptions) -> None:
        self._pool = pool
        self._settings = settings
        self._errors = _unavailable_errors()
        self._table = f'"{settings.table}"'
        self._channel = settings.table
        self._listener: asyncpg.Connection | None = None
        self._healthy = False
        self._wake = asyncio.Event()
        self._table_ready = False

    @property
    def ready(self) -> bool:
        listener = self._listener
        return self._healthy and listener is not None and not listener.is_closed()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy]:
        try:
            pool = await self._pool.get()
            async with pool.acquire(timeout=10) as conn:
                yield conn
        except self._errors as exc:
            self._lost()
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _lost(self, *_: Any) -> None:
        self._healthy = False
        self._wake.set()  # the consumer notices at once and reconnects

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def connect(self) -> None:
        await self._close_listener()
        await self._ensure_table()
        try:
            listener = await _asyncpg().connect(self._pool.dsn, timeout=10)
            await listener.add_listener(self._channel, self._notified)
        except self._errors as exc:
            self._lost()
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        listener.add_termination_listener(self._lost)
        self._listener = listener
        self._healthy = True

    async def _ensure_table(self) -> None:
        if not self._table_ready and self._settings.create_table:
            await self.create_table()

    async def create_table(self) -> None:
        """Create the jobs table and its index, unless they exist."""
        t = self._table
        async with self._connection() as conn:
            async with conn.transaction():
                # One creator at a time: CREATE ... IF NOT EXISTS races with itself.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._channel)
                await conn.execute(
                    f"""
                        CREATE TABLE IF NOT EXISTS {t} (
                            id bigserial PRIMARY KEY,
                            queue text NOT NULL,
                            payload text NOT NULL,
                            state text NOT NULL DEFAULT 'ready'
                                CHECK (state IN ('ready', 'running', 'dead')),
                            attempts integer NOT NULL DEFAULT 0,
                            run_at timestamptz NOT NULL DEFAULT now(),
                            locked_until timestamptz,
                            last_error text,
                            created_at timestamptz NOT NULL DEFAULT now()
                        );
                        CREATE INDEX IF NOT EXISTS "{self._channel}_due"
                            ON {t} (queue, run_at) WHERE state <> 'dead';
                        """
                )
        self._table_ready = True

    async def enqueue(self, queue: str, payload: str, *, delay: float = 0.0) -> int:
        await self._ensure_table()  # a service that only enqueues never connect()s
        async with self._connection() as conn:
            job_id: int = await conn.fetchval(
                f"""
                WITH job AS (
                    INSERT INTO {self._table} (queue, payload, run_at)
                    VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING id
                )
                SELECT id FROM job, pg_notify($4, $1)
                """,
                queue,
                payload,
                float(max(delay, 0.0)),
                self._channel,
            )
        return job_id

    async def claim(self, queues: Sequence[str], limit: int, *, lock_seconds: float) -> list[Job]:
        t = self._table
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"""
                WITH next AS (
                    SELECT id FROM {t}
                    WHERE queue = ANY($1) AND run_at <= now()
                      AND (state = 'ready' OR (state = 'running' AND locked_until <= now()))
                    ORDER BY run_at, id
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE {t} AS job
                SET state = 'running', attempts = job.attempts + 1,
                    locked_until = now() + make_interval(secs => $3)
                FROM next WHERE job.id = next.id
                RETURNING job.id, job.queue, job.payload, job.attempts, job.last_error
                """,
                list(queues),
                limit,
                float(lock_seconds),
            )
        self._healthy = True
        return sorted(
            (Job(r["id"], r["queue"], r["payload"], r["attempts"], r["last_error"]) for r in rows),
            key=lambda job: job.id,
        )

    async def extend(self, jobs: Sequence[Job], *, lock_seconds: float) -> None:
        async with self._connection() as conn:
            await conn.execute(
                f"UPDATE {self._table} SET locked_until = now() + make_interval(secs => $2) "
                "WHERE id = ANY($1) AND state = 'running'",
                [job.id for job in jobs],
                float(lock_seconds),
            )

    async def next_due(self, queues: Sequence[str]) -> float | None:
        async with self._connection() as conn:
            due: float | None = await conn.fetchval(
                f"""
                SELECT greatest(extract(epoch FROM min(
                    CASE WHEN state = 'ready' THEN run_at ELSE locked_until END) - now()), 0)::float8
                FROM {self._table} WHERE queue = ANY($1) AND state <> 'dead'
                """,
                list(queues),
            )
        return due

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 - a deadline, not a cancel scope
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)  # the lock times are the database's now(): real time

    async def complete(self, job: Job) -> None:
        async with self._connection() as conn:
            # attempts = the claim's: a job whose lock expired and was claimed again is not ours.
            await conn.execute(
                f"DELETE FROM {self._table} WHERE id = $1 AND attempts = $2", job.id, job.attempts
            )

    async def retry(self, job: Job, *, delay: float, error: str) -> None:
        async with self._connection() as conn:
            # NOTIFY: every consumer works out its next wake-up again (this job is due later).
            await conn.execute(
                f"""
                WITH retried AS (
                    UPDATE {self._table}
                    SET state = 'ready', locked_until = NULL, last_error = $3,
                        run_at = now() + make_interval(secs => $4)
                    WHERE id = $1 AND attempts = $2 RETURNING queue
                )
                SELECT pg_notify($5, queue) FROM retried
                """,
                job.id,
                job.attempts,
                error,
                float(delay),
                self._channel,
            )

    async def dead_letter(self, job: Job, *, error: str) -> None:
        async with self._connection() as conn:
            await conn.execute(
                f"UPDATE {self._table} SET state = 'dead', locked_until = NULL, last_error = $3 "
                "WHERE id = $1 AND attempts = $2",
                job.id,
                job.attempts,
                error,
            )

    async def release(self, job: Job) -> None:
        async with self._connection() as conn:
            await conn.execute(
                f"""
                WITH released AS (
                    UPDATE {self._table}
                    SET state = 'ready', attempts = attempts - 1, locked_until = NULL, run_at = now()
                    WHERE id = $1 AND attempts = $2 AND state = 'running' RETURNING queue
                )
                SELECT pg_notify($3, queue) FROM released
                """,
                job.id,
                job.attempts,
                self._channel,
            )

    async def dead_jobs(self, queue: str) -> list[Job]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT id, queue, payload, attempts, last_error FROM {self._table} "
                "WHERE queue = $1 AND state = 'dead' ORDER BY id",
                queue,
            )
        return [Job(r["id"], r["queue"], r["payload"], r["attempts"], r["last_error"]) for r in rows]

    async def pending(self, queue: str) -> int:
        async with self._connection() as conn:
            count: int = await conn.fetchval(
                f"SELECT count(*) FROM {self._table} WHERE queue = $1 AND state <> 'dead'", queue
            )
        return count

    async def close(self) -> None:
        await self._close_listener()

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        listener.remove_termination_listener(self._lost)
        if listener.is_closed():
            return
        try:
            await asyncio.wait_for(listener.close(), _CLOSE_TIMEOUT)
        except Exception:
            listener.terminate()
