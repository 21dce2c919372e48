"""HTTP benchmark: tomodachi against plain aiohttp, measured in the same run.

    python bench/http/run.py [--seconds 5] [--connections 32] [--loop asyncio|uvloop] [--rounds 3]

Sections:
1. throughput (requests/s, loaded from a separate process on loopback) for
   a) keep-alive on, access log off; b) keep-alive on, access log on (aiohttp writes its own
   access log); c) the original tomodachi's defaults (no keep-alive, access log on) against
   plain aiohttp with keep-alive;
2. start-up: process start to first answered request, `tomodachi run --production` vs a plain
   aiohttp app (median of several runs);
3. graceful stop: the sheep service with 20 sleeping POSTs; time from the last answer to exit.
Each line prints both figures and the ratio tomodachi/aiohttp.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cmd: list[str], cpu: int) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *cmd] if taskset and (os.cpu_count() or 1) > 1 else cmd


def env_for(port: int, access_log: bool, keepalive: int, loop: str) -> dict[str, str]:
    env = dict(os.environ)
    # Both sides must import from cached bytecode, as an installed package does.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        BENCH_PORT=str(port),
        BENCH_ACCESS_LOG="1" if access_log else "0",
        BENCH_KEEPALIVE=str(keepalive),
        BENCH_LOOP=loop,
        TOMODACHI_NO_COLOR="1",
    )
    env["PYTHONPATH"] = os.path.join(ROOT, "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def server_cmd(kind: str, port: int, loop: str) -> list[str]:
    if kind == "aiohttp":
        return [PY, os.path.join(HERE, "hello_aiohttp.py"), str(port)]
    return [
        PY,
        "-m",
        "tomodachi",
        "run",
        "--production",
        "--loop",
        loop,
        os.path.join(HERE, "hello_tomodachi.py"),
    ]


def wait_answer(port: int, deadline: float, path: str = "/hello") -> float:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return time.monotonic()
        except OSError:
            time.sleep(0.002)
    raise RuntimeError(f"server on port {port} did not answer in time")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def throughput(kind: str, access_log: bool, keepalive: int, close: bool, args: argparse.Namespace) -> float:
    port = free_port()
    proc = subprocess.Popen(
        pinned(server_cmd(kind, port, args.loop), 0),
        env=env_for(port, access_log, keepalive, args.loop),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_answer(port, time.monotonic() + 30)
        cmd = [PY, os.path.join(HERE, "loadgen.py"), str(port), str(args.seconds), str(args.connections)]
        if close:
            cmd.append("--close")
        out = subprocess.run(pinned(cmd, 1), capture_output=True, text=True, check=True)
        return float(out.stdout.strip())
    finally:
        stop(proc)


def startup(kind: str, args: argparse.Namespace) -> float:
    port = free_port()
    begin = time.monotonic()
    proc = subprocess.Popen(
        server_cmd(kind, port, args.loop),
        env=env_for(port, False, 75, args.loop),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return wait_answer(port, begin + 30) - begin
    finally:
        stop(proc)


def graceful_stop() -> tuple[float, int]:
    """Seconds from the last of 20 sleeping POSTs answering to the sheep process exiting."""
    env = env_for(9700, False, 75, "asyncio")
    sheep = os.path.join(ROOT, "examples", "sheep", "app.py")
    proc = subprocess.Popen(
        [PY, "-m", "tomodachi", "run", "--production", sheep],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    # The sheep example runs unchanged, so it listens on its default port, 9700.
    wait_answer(9700, time.monotonic() + 30, "/sheep")
    answers: list[tuple[float, int]] = []
    lock = threading.Lock()

    def post() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", 9700, timeout=30)
        conn.request("POST", "/sheep")
        status = conn.getresponse().status
        with lock:
            answers.append((time.monotonic(), status))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    exited = time.monotonic()
    for thread in threads:
        thread.join()
    ok = sum(1 for _, status in answers if status == 200)
    return exited - max(t for t, _ in answers), ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per scenario (median)")
    parser.add_argument("--startup-runs", type=int, default=7)
    args = parser.parse_args()

    print(f"# bench/http  python {sys.version.split()[0]}  loop={args.loop}  {args.connections} connections")
    scenarios = [
        ("keep-alive, access log off", (False, 75, False), (False, 75, False), 0.9),
        ("keep-alive, access log on", (True, 75, False), (True, 75, False), 0.8),
        (
            "original defaults (no keep-alive, log on) vs aiohttp keep-alive",
            (True, 0, True),
            (False, 75, False),
            None,
        ),
    ]
    for title, ours, theirs, target in scenarios:
        t_runs, a_runs = [], []
        for _ in range(args.rounds):  # interleaved so drift affects both alike
            a_runs.append(throughput("aiohttp", theirs[0], theirs[1], theirs[2], args))
            t_runs.append(throughput("tomodachi", ours[0], ours[1], ours[2], args))
        t, a = statistics.median(t_runs), statistics.median(a_runs)
        goal = f"  (target >= {target}x)" if target else ""
        print(f"{title:<66} tomodachi {t:9.0f} req/s  aiohttp {a:9.0f} req/s  ratio {t / a:5.2f}x{goal}")

    startup("tomodachi", args), startup("aiohttp", args)  # warm-up: writes the bytecode caches
    t_start, a_start = [], []
    for _ in range(args.startup_runs):  # interleaved so load changes affect both alike
        t_start.append(startup("tomodachi", args))
        a_start.append(startup("aiohttp", args))
    ts, as_ = statistics.median(t_start), statistics.median(a_start)
    print(
        f"{'start-up to first answer (median)':<66} tomodachi {ts * 1000:7.0f} ms    "
        f"aiohttp {as_ * 1000:7.0f} ms    ratio {ts / as_:5.2f}x  (target <= 1.1x)"
    )
    gap, ok = graceful_stop()
    title = "graceful stop: last of 20 sleeping POSTs answered -> exit"
    print(f"{title:<66} {gap * 1000:7.0f} ms  ({ok}/20 answered 200; target < 300 ms)")


if __name__ == "__main__":
    main()
