"""HTTP benchmark: tomodachi against plain aiohttp and uvicorn+Starlette, measured in the same run.

    python bench/http/run.py [--seconds 5] [--connections 64] [--loop uvloop|asyncio] [--rounds 5]
                             [--only-throughput]

Sections:
1. throughput (requests/s, loaded from a separate process on loopback, server and load generator
   pinned to different cores): ``/hello`` (text) and ``/json`` (a small dict as JSON), for
   raw aiohttp (no access log), uvicorn+Starlette (no access log), tomodachi with the access log
   off, and tomodachi's defaults (access log on, console format; and the JSON logger) written to
   a file. The load comes from ``wrk`` when it is on PATH (``apt-get install wrk``), else from
   ``loadgen.py``. Rounds are interleaved (the order rotates per round); medians are printed with
   the spread (min-max as a % of the median) so the noise of a shared machine is visible.
   Checked: defaults >= 0.8x tomodachi log off; log off >= 1.0x raw aiohttp; each as the median
   of the per-round ratios (paired: both sides ran back to back in the round).
2. memory: RSS after start and after the first round's load (topped up to at least 100k
   requests), per server.
   Checked: tomodachi's RSS after the load within 3 MiB of raw aiohttp's.
3. start-up: process start to first answered request, `tomodachi run --production` vs a plain
   aiohttp app (median of several runs);
4. graceful stop: the sheep service with 20 sleeping POSTs; time from the last answer to exit.

uvicorn and Starlette are not project dependencies: they are installed into a throwaway venv
(``$TMPDIR/tomodachi-bench-starlette``) on first use, with the current interpreter's ``venv`` and
``pip``; without network access the Starlette column is left out.
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
    if kind == "starlette":
        return [starlette_python() or PY, os.path.join(HERE, "hello_starlette.py"), str(port)]
    logger = ["--logger", "json"] if kind == "tomodachi-json" else []
    return [
        PY,
        "-m",
        "tomodachi",
        "run",
        "--production",
        "--loop",
        loop,
        *logger,
        os.path.join(HERE, "hello_tomodachi.py"),
    ]


_starlette_python: str | bool | None = False


def starlette_python() -> str | None:
    """The interpreter of a throwaway venv with uvicorn, uvloop, httptools and Starlette (made once)."""
    global _starlette_python
    if _starlette_python is not False:
        return _starlette_python  # type: ignore[return-value]
    import tempfile

    venv = os.path.join(tempfile.gettempdir(), "tomodachi-bench-starlette")
    python = os.path.join(venv, "bin", "python")
    probe = [python, "-c", "import uvicorn, starlette, uvloop, httptools"]
    if not (os.path.exists(python) and subprocess.run(probe, capture_output=True).returncode == 0):
        try:
            subprocess.run([PY, "-m", "venv", venv], check=True, capture_output=True)
            subprocess.run(
                [python, "-m", "pip", "install", "-q", "uvicorn", "starlette", "uvloop", "httptools"],
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"# uvicorn+Starlette left out: cannot install them into {venv} ({exc})")
            _starlette_python = None
            return None
    _starlette_python = python
    return python


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load(port: int, path: str, args: argparse.Namespace, close: bool = False) -> float:
    """Requests per second from wrk (when on PATH and keep-alive) or loadgen.py."""
    wrk = shutil.which("wrk")
    if wrk and not close:
        cmd = [
            wrk,
            "-t1",
            f"-c{args.connections}",
            f"-d{max(1, round(args.seconds))}s",
            f"http://127.0.0.1:{port}{path}",
        ]
        out = subprocess.run(pinned(cmd, 1), capture_output=True, text=True, check=True).stdout
        found = re.search(r"Requests/sec:\s*([\d.]+)", out)
        if found is None or "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"wrk failed:\n{out}")
        return float(found.group(1))
    cmd = [PY, os.path.join(HERE, "loadgen.py"), str(port), str(args.seconds), str(args.connections)]
    cmd += ["--path", path] + (["--close"] if close else [])
    out = subprocess.run(pinned(cmd, 1), capture_output=True, text=True, check=True).stdout
    return float(out.strip())


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


def throughput(
    kind: str,
    access_log: bool,
    keepalive: int,
    close: bool,
    args: argparse.Namespace,
    path: str = "/hello",
    rss: list[tuple[int, int, float]] | None = None,
) -> float:
    """Requests/s of one server; its log lines go to a file (as a deployment's would). With
    *rss*: (RSS after start, RSS after at least 100k requests, requests served) is appended (the
    timed load is topped up with more until 100k were served, however fast the machine is)."""
    import tempfile

    port = free_port()
    with tempfile.TemporaryFile() as log_file:
        proc = subprocess.Popen(
            pinned(server_cmd(kind, port, args.loop), 0),
            env=env_for(port, access_log, keepalive, args.loop),
            stdout=log_file,
            stderr=log_file,
        )
        try:
            wait_answer(port, time.monotonic() + 30, path)
            started_rss = rss_kib(proc.pid)
            rate = load(port, path, args, close)
            if rss is not None:
                served = rate * args.seconds
                while served < 100_000:
                    served += load(port, path, args, close) * args.seconds
                rss.append((started_rss, rss_kib(proc.pid), served))
            return rate
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


def throughput_section(
    path: str, servers: list[tuple[str, str, bool]], args: argparse.Namespace
) -> list[str]:
    """Throughput and RSS of every server on *path*, printed with the checks; the checks not met."""
    failed: list[str] = []
    runs: dict[str, list[float]] = {label: [] for label, _, _ in servers}
    memory: dict[str, list[tuple[int, int, float]]] = {label: [] for label, _, _ in servers}
    for round_ in range(args.rounds):  # interleaved, the order rotated, so drift affects all alike
        shift = round_ % len(servers)
        for label, kind, access_log in servers[shift:] + servers[:shift]:
            # RSS in the first round (its load topped up to 100k requests), so later rounds stay short
            rss = memory[label] if round_ == 0 else None
            runs[label].append(throughput(kind, access_log, 75, False, args, path, rss))
    medians = {label: statistics.median(values) for label, values in runs.items()}
    base = medians["raw aiohttp"]
    print(f"\n## GET {path}  (median req/s; spread = (max - min) / median over the rounds)")
    for label, _, _ in servers:
        values = runs[label]
        spread = (max(values) - min(values)) / medians[label] * 100
        start_mib = statistics.median(m[0] for m in memory[label]) / 1024
        after_mib = statistics.median(m[1] for m in memory[label]) / 1024
        print(
            f"  {label:<46} {medians[label]:9.0f} req/s  {medians[label] / base:5.2f}x aiohttp  "
            f"spread {spread:4.1f}%   RSS start {start_mib:6.1f} MiB  after load {after_mib:6.1f} MiB"
        )
    off = "tomodachi, access log off"
    checks = [  # (title, numerator, denominator, target)
        ("defaults (log on) / tomodachi log off", "tomodachi defaults (access log on, console)", off, 0.8),
        ("JSON logger (log on) / tomodachi log off", "tomodachi, access log on, JSON logger", off, 0.8),
        ("tomodachi log off / raw aiohttp", off, "raw aiohttp", 1.0),
    ]
    for title, numerator, denominator, target in checks:
        # Paired: the ratio within each round (the servers ran back to back), then the median, so a
        # machine that is slower in one round than in another moves both sides alike.
        ratios = [a / b for a, b in zip(runs[numerator], runs[denominator], strict=True)]
        ratio = statistics.median(ratios)
        ok = ratio >= target
        failed += [] if ok else [f"{path}: {title}"]
        print(
            f"  check: {title:<44} {ratio:5.3f}x  (rounds {min(ratios):.2f}-{max(ratios):.2f}; "
            f"target >= {target}x) {'ok' if ok else 'NOT MET'}"
        )
    aiohttp_after = statistics.median(m[1] for m in memory["raw aiohttp"])
    for label in ("tomodachi, access log off", "tomodachi defaults (access log on, console)"):
        served = min(m[2] for m in memory[label])
        delta = (statistics.median(m[1] for m in memory[label]) - aiohttp_after) / 1024
        ok = delta <= 3.0 and served >= 100_000
        failed += [] if ok else [f"{path}: RSS {label}"]
        print(
            f"  check: RSS after load, {label} - aiohttp {delta:+5.1f} MiB  (target <= 3 MiB, "
            f"after >= {served / 1000:.0f}k requests; needs >= 100k) {'ok' if ok else 'NOT MET'}"
        )
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds per scenario (median)")
    parser.add_argument("--startup-runs", type=int, default=7)
    parser.add_argument("--only-throughput", action="store_true", help="skip start-up and graceful stop")
    args = parser.parse_args()

    wrk = shutil.which("wrk")
    loader = "wrk" if wrk else "loadgen.py"
    print(
        f"# bench/http  python {sys.version.split()[0]}  loop={args.loop}  {args.connections} connections  "
        f"{args.seconds:g} s per run  {args.rounds} interleaved rounds  load: {loader}"
    )
    servers = [  # (label, kind, access log)
        ("raw aiohttp", "aiohttp", False),
        ("uvicorn+Starlette", "starlette", False),
        ("tomodachi, access log off", "tomodachi", False),
        ("tomodachi defaults (access log on, console)", "tomodachi", True),
        ("tomodachi, access log on, JSON logger", "tomodachi-json", True),
    ]
    if starlette_python() is None:
        servers = [server for server in servers if server[1] != "starlette"]
    failed: list[str] = []
    for path in ("/hello", "/json"):
        failed += throughput_section(path, servers, args)
    if args.only_throughput:
        print("\nNOT MET: " + "; ".join(failed) if failed else "\nall throughput and memory targets met")
        return

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
