"""Helpers for the tests of examples/postgres_queue: backends, tables, a TCP proxy to cut."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import tomodachi
from examples.postgres_queue.pgqueue import JobStore, PgQueueTransport

#: The machine's PostgreSQL (trust auth), see the README's Development.
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"


def unique_table() -> str:
    return f"pgq_test_{uuid.uuid4().hex[:12]}"


async def drop_table(table: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP TABLE IF EXISTS "{table}"')
    finally:
        await conn.close()


def transport_of(service: tomodachi.Service) -> PgQueueTransport:
    transport = tomodachi.runtime_of(service).transport(service, PgQueueTransport)
    assert transport is not None, "the service has no @pg_queue handler"
    return transport


def store_of(service: tomodachi.Service) -> JobStore:
    store = transport_of(service).store
    assert store is not None
    return store


class Proxy:
    """A TCP proxy to PostgreSQL that a test can cut (an outage) and restore on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[Any]] = set()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.ensure_future(self._pipe(reader, up_writer)),
            asyncio.ensure_future(self._pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        for pipe in pipes:
            pipe.add_done_callback(self._pipes.discard)
        await asyncio.gather(*pipes, return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def proxy() -> AsyncIterator[Proxy]:
    p = Proxy()
    await p.open()
    try:
        yield p
    finally:
        await p.cut()
