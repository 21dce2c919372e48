"""A small closed-loop HTTP/1.1 load generator (run as its own process).

    python bench/http/loadgen.py PORT SECONDS CONNECTIONS [--close] [--path /hello]

bench/http/run.py uses it when ``wrk`` is not on PATH.

Each connection sends one GET, waits for the whole response, and sends the next (keep-alive),
or reconnects per request with ``--close``. Prints the number of completed requests per second.
"""

from __future__ import annotations

import asyncio
import sys
import time

REQUEST_KEEPALIVE = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: loadgen\r\n\r\n"
REQUEST_CLOSE = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: loadgen\r\nConnection: close\r\n\r\n"


class Client(asyncio.Protocol):
    def __init__(self, request: bytes, counter: list[int], done: asyncio.Future[None]) -> None:
        self.request = request
        self.counter = counter
        self.done = done
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop transports are not subclasses
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            start = head.find(b"content-length:")
            length = (
                int(head[start + 15 : head.find(b"\r\n", start) if head.find(b"\r\n", start) > 0 else None])
                if start >= 0
                else 0
            )
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.counter[0] += 1
            if self.request is REQUEST_CLOSE:
                assert self.transport is not None
                self.transport.close()
                return
            assert self.transport is not None
            self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def worker(port: int, deadline: float, close: bool, counter: list[int]) -> None:
    loop = asyncio.get_running_loop()
    request = REQUEST_CLOSE if close else REQUEST_KEEPALIVE
    while time.monotonic() < deadline:
        done: asyncio.Future[None] = loop.create_future()
        transport, _ = await loop.create_connection(
            lambda done=done: Client(request, counter, done),  # type: ignore[misc]
            "127.0.0.1",
            port,
        )
        try:
            await asyncio.wait_for(asyncio.shield(done), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            transport.close()
            return


async def main(port: int, seconds: float, connections: int, close: bool) -> None:
    counter = [0]
    # Warm up for half a second, then measure.
    await asyncio.gather(*(worker(port, time.monotonic() + 0.5, close, [0]) for _ in range(connections)))
    start = time.monotonic()
    await asyncio.gather(*(worker(port, start + seconds, close, counter) for _ in range(connections)))
    elapsed = time.monotonic() - start
    print(f"{counter[0] / elapsed:.1f}")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    port_arg, seconds_arg, conns_arg = sys.argv[1:4]
    if "--path" in sys.argv:
        path = sys.argv[sys.argv.index("--path") + 1].encode()
        REQUEST_KEEPALIVE = REQUEST_KEEPALIVE.replace(b"/hello", path, 1)
        REQUEST_CLOSE = REQUEST_CLOSE.replace(b"/hello", path, 1)
    asyncio.run(main(int(port_arg), float(seconds_arg), int(conns_arg), "--close" in sys.argv))
