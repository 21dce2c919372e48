"""``tomodachi run --workers 2`` against one worker (issue 17), measured in the same run.

    python bench/http/workers.py [--seconds 5] [--connections 64] [--rounds 3] [--loop uvloop|asyncio]
                                 [--startup-runs 7]

1. throughput (requests/s of ``GET /hello``, bench/http/hello_tomodachi.py, access log off, log
   lines to a file): ``--workers 1`` (no supervisor: the services run in the ``tomodachi run``
   process, as without the flag) and ``--workers 2`` (a supervisor and two workers on one port,
   ``SO_REUSEPORT``). Nothing is pinned: the workers and the load generator share the machine's
   cores, as the issue asks. The load comes from ``wrk -t1`` when it is on PATH, else from
   ``loadgen.py``. Rounds are interleaved; medians with the spread (min-max as a % of the median).
   Target: ``--workers 2`` >= 1.4x one worker on a 2-core machine.
2. start-up: process start to the first answered request, ``--workers 1`` vs ``--workers 2``
   (the supervisor's added start-up time), and for ``--workers 2`` the time until both workers
   logged ``started service successfully``; medians of ``--startup-runs``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable
SERVICE = os.path.join(HERE, "hello_tomodachi.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(port: int, loop: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOMODACHI_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(BENCH_PORT=str(port), BENCH_ACCESS_LOG="0", BENCH_LOOP=loop, TOMODACHI_NO_COLOR="1")
    env["PYTHONPATH"] = os.path.join(ROOT, "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def command(workers: int, loop: str) -> list[str]:
    return [PY, "-m", "tomodachi", "run", "--production", "--loop", loop, "--workers", str(workers), SERVICE]


def wait_answer(port: int, deadline: float) -> float:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/hello")
            conn.getresponse().read()
            conn.close()
            return time.monotonic()
        except OSError:
            time.sleep(0.002)
    raise RuntimeError(f"nothing answered on port {port} in time")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load(port: int, args: argparse.Namespace) -> float:
    wrk = shutil.which("wrk")
    if wrk:
        cmd = [
            wrk,
            "-t1",
            f"-c{args.connections}",
            f"-d{max(1, round(args.seconds))}s",
            f"http://127.0.0.1:{port}/hello",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        found = re.search(r"Requests/sec:\s*([\d.]+)", out)
        if found is None or "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"wrk failed:\n{out}")
        return float(found.group(1))
    cmd = [PY, os.path.join(HERE, "loadgen.py"), str(port), str(args.seconds), str(args.connections)]
    return float(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip())


def throughput(workers: int, args: argparse.Namespace) -> float:
    port = free_port()
    with tempfile.TemporaryFile() as log_file:
        proc = subprocess.Popen(
            command(workers, args.loop), env=environment(port, args.loop), stdout=log_file, stderr=log_file
        )
        try:
            wait_answer(port, time.monotonic() + 30)
            time.sleep(0.5)  # every worker is up (the first answer may come from one)
            return load(port, args)
        finally:
            stop(proc)


def startup(workers: int, args: argparse.Namespace) -> tuple[float, float]:
    """(start to first answer, start to every worker's 'started service successfully')."""
    port = free_port()
    begin = time.monotonic()
    proc = subprocess.Popen(
        command(workers, args.loop),
        env=environment(port, args.loop),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        first = wait_answer(port, begin + 30) - begin
        seen = 0
        assert proc.stderr is not None
        while seen < workers:
            line = proc.stderr.readline()
            if not line:
                raise RuntimeError("the run ended before every worker started")
            seen += b"started service successfully" in line
        every = time.monotonic() - begin
        return first, every
    finally:
        stop(proc)
        if proc.stderr is not None:
            proc.stderr.close()


def spread(values: list[float]) -> str:
    middle = statistics.median(values)
    return f"±{(max(values) - min(values)) / middle * 100 / 2:.0f}%" if middle else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop")
    parser.add_argument("--startup-runs", type=int, default=7)
    args = parser.parse_args()

    print(
        f"# cores: {len(os.sched_getaffinity(0))}; "
        f"load: {'wrk -t1' if shutil.which('wrk') else 'loadgen.py'} "
        f"-c{args.connections} {args.seconds:g} s; loop {args.loop}; rounds {args.rounds}"
    )
    rates: dict[int, list[float]] = {1: [], 2: []}
    for index in range(args.rounds):
        for workers in (1, 2) if index % 2 == 0 else (2, 1):
            rates[workers].append(throughput(workers, args))
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"--workers 1: {one:10.0f} req/s {spread(rates[1])}  {[round(r) for r in rates[1]]}")
    print(f"--workers 2: {two:10.0f} req/s {spread(rates[2])}  {[round(r) for r in rates[2]]}")
    ratio = two / one
    print(f"ratio: {ratio:.2f}x (target >= 1.4x): {'ok' if ratio >= 1.4 else 'MISSED'}")

    starts: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for index in range(args.startup_runs):
        for workers in (1, 2) if index % 2 == 0 else (2, 1):
            starts[workers].append(startup(workers, args))
    first1 = statistics.median(first for first, _ in starts[1])
    first2 = statistics.median(first for first, _ in starts[2])
    every2 = statistics.median(every for _, every in starts[2])
    print(
        f"start-up to first answer: --workers 1 {first1 * 1000:.0f} ms, --workers 2 {first2 * 1000:.0f} ms "
        f"(the supervisor adds {(first2 - first1) * 1000:+.0f} ms); "
        f"both workers started: {every2 * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
