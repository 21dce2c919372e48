"""Soak: resident memory growth of a service per 100k HTTP requests and per 100k messages.

    python bench/soak/run.py [--requests 100000] [--messages 100000] [--only http|messages]
                             [--src PATH]

Not part of CI (it takes a minute or two). Both sides run as ``tomodachi run`` processes, and
their resident set size (``VmRSS``) is read after a warm-up and after the run:
1. HTTP: a hello route with keep-alive and the access log on (written to /dev/null), loaded by
   8 keep-alive connections from this process;
2. messages: 10 KB messages on the in-memory broker (``--message-broker memory``) to an AMQP
   handler that always raises, so each one is logged with its traceback and dead-lettered
   (the case of issue 12: 20,000 such messages left ~490 MB resident).
Each line prints RSS before and after and the growth scaled to 100k. ``--src`` runs another
checkout's ``src`` (for a before/after comparison with ``git worktree``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable
REQUEST = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: soak\r\n\r\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def env_for(src: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra, TOMODACHI_NO_COLOR="1")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def growth_line(what: str, count: int, before: int, after: int, seconds: float) -> str:
    per_100k = (after - before) / 1024 * 100_000 / count
    return (
        f"{what:<44} RSS {before / 1024:7.1f} MiB -> {after / 1024:7.1f} MiB  "
        f"growth {per_100k:+8.1f} MiB per 100k  ({count} in {seconds:.1f} s)"
    )


async def _connection(port: int, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
    finally:
        writer.close()


async def _load(port: int, total: int, connections: int = 8) -> None:
    share = total // connections
    await asyncio.gather(*(_connection(port, share) for _ in range(connections)))


def soak_http(src: str, requests: int) -> str:
    port = free_port()
    service = os.path.join(HERE, "http_service.py")
    cmd = [PY, "-m", "tomodachi", "run", "--production", "--loop", "asyncio", service]
    with subprocess.Popen(
        cmd, env=env_for(src, SOAK_PORT=str(port)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("the HTTP service did not start") from None
                    time.sleep(0.05)
            asyncio.run(_load(port, 8_000))  # warm-up: caches, allocator arenas
            before = rss_kib(proc.pid)
            start = time.monotonic()
            asyncio.run(_load(port, requests))
            seconds = time.monotonic() - start
            time.sleep(0.5)
            after = rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return growth_line("HTTP hello, keep-alive, access log on", requests, before, after, seconds)


def soak_messages(src: str, messages: int) -> str:
    service = os.path.join(HERE, "messages_service.py")
    cmd = [PY, "-m", "tomodachi", "run", "--production", "--loop", "asyncio", "--message-broker", "memory"]
    env = env_for(src, SOAK_MESSAGES=str(messages))
    result = subprocess.run(
        [*cmd, service], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=3600
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("SOAK ")), None)
    if line is None:
        raise RuntimeError(f"the message soak printed no result (exit code {result.returncode})")
    fields = dict(item.split("=", 1) for item in line.split()[1:])
    return growth_line(
        "in-memory AMQP, 10 KB, handler always raises",
        int(fields["messages"]),
        int(fields["rss_before_kib"]),
        int(fields["rss_after_kib"]),
        float(fields["seconds"]),
    )


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--only", choices=("http", "messages"))
    parser.add_argument("--src", default=os.path.join(ROOT, "src"), help="the src directory to run")
    args = parser.parse_args()
    print(f"src: {args.src}", flush=True)
    if args.only in (None, "http"):
        print(soak_http(args.src, args.requests), flush=True)
    if args.only in (None, "messages"):
        print(soak_messages(args.src, args.messages), flush=True)


if __name__ == "__main__":
    main()
