"""HTTP cost in instructions per request: tomodachi (access log off, defaults, JSON logger) and
raw aiohttp, counted by callgrind.

    .venv/bin/python bench/http/callgrind.py [--requests 12000] [--path /hello] [--connections 8]

Requests/s on a shared machine vary by several percent between runs, which hides a difference of
a few microseconds per request; instruction counts do not vary. Each server runs under
``valgrind --tool=callgrind`` with counting off; after it answers and has served a warm-up,
counting is turned on (``callgrind_control``) for N keep-alive GET requests from a small client
in another process (8 connections unless ``--connections``), then off. Printed: instructions per
request of each server
and the ratios the throughput targets of ``bench/http/run.py`` are about (defaults / log off,
log off / raw aiohttp). Instructions are not time (system calls and cache misses are not
counted), so the ratios are an estimate of the throughput ratios, without their noise.
The default of 12,000 requests keeps a server's figure within about 1% between runs (how many
requests one loop iteration serves, and how many access lines a timed flush writes, depend on the
speed of the run); with 4,000 it moved by 1-2%. Under callgrind a server is some 50 times slower, so
fewer access lines wait together for one write than under wrk's load: the per-write costs weigh
more here, and with ``--connections 64`` (wrk's) a little less.

Needs ``valgrind`` (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import env_for, free_port, server_cmd, wait_answer  # noqa: E402 - the throughput bench's helpers


def load(port: int, path: str, requests: int, connections: int = 8) -> None:
    """*requests* keep-alive GETs over *connections* connections, one round at a time."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n".encode()
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    try:
        done = 0
        while done < requests:
            for sock in sockets:
                sock.sendall(request)
            for sock in sockets:
                buffer = b""
                while b"\r\n\r\n" not in buffer:
                    buffer += sock.recv(65536)
                head, _, body = buffer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += sock.recv(65536)
            done += connections
    finally:
        for sock in sockets:
            sock.close()


def control(pid: int, *action: str) -> None:
    """Tell the callgrind of process *pid* to do *action* (``-i on``, ``-i off``, ``-d``)."""
    subprocess.run(["callgrind_control", *action, str(pid)], capture_output=True, check=True)


def instructions_per_request(
    kind: str, access_log: bool, path: str, requests: int, connections: int = 8
) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as log_file:
        out = os.path.join(tmp, "callgrind.out")
        valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        proc = subprocess.Popen(
            [*valgrind, *server_cmd(kind, port, "uvloop")],
            env=env_for(port, access_log, 75, "uvloop"),
            stdout=log_file,
            stderr=log_file,
        )
        try:
            wait_answer(port, time.monotonic() + 300, path)
            load(port, path, 200)  # warm-up
            control(proc.pid, "-i", "on")
            load(port, path, requests, connections)
            control(proc.pid, "-i", "off")
            control(proc.pid, "-d")
        finally:
            proc.terminate()
            proc.wait(60)
        total = 0
        for name in glob.glob(out + "*"):
            with open(name) as file:
                for line in file:
                    if line.startswith(("summary:", "totals:")):
                        total += int(line.split()[1])
    return total / requests


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=12000)
    parser.add_argument("--path", default="/hello", choices=("/hello", "/json"))
    parser.add_argument(
        "--connections", type=int, default=8, help="keep-alive connections of the load (wrk's run uses 64)"
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    print(
        f"# bench/http/callgrind  GET {args.path}  {args.requests} requests over {args.connections}"
        " connections, instructions per request"
    )
    servers = [
        ("raw aiohttp", "aiohttp", False),
        ("tomodachi, access log off", "tomodachi", False),
        ("tomodachi defaults (access log on, console)", "tomodachi", True),
        ("tomodachi, access log on, JSON logger", "tomodachi-json", True),
    ]
    counts = {}
    for label, kind, access_log in servers:
        counts[label] = instructions_per_request(kind, access_log, args.path, args.requests, args.connections)
        print(f"  {label:<46} {counts[label]:9.0f}")
    off = counts["tomodachi, access log off"]
    for label in ("tomodachi defaults (access log on, console)", "tomodachi, access log on, JSON logger"):
        print(f"  ratio log off / {label:<44} {off / counts[label]:5.2f}x  (throughput target >= 0.8x)")
    ratio = counts["raw aiohttp"] / off
    print(f"  ratio raw aiohttp / tomodachi log off{'':<24} {ratio:5.2f}x  (throughput target >= 1.0x)")


if __name__ == "__main__":
    main()
