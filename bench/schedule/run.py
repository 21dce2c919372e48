"""Scheduler benchmark: tomodachi's scheduler against naive ``asyncio.sleep`` loops, same run.

    .venv/bin/python bench/schedule/run.py [--seconds 20] [--idle-seconds 10] [--functions 200]
                                           [--loop auto|asyncio|uvloop]

1. lateness: one service with 200 ``@heartbeat`` functions runs for ``--seconds`` through
   ``tomodachi run --production``; each invocation records handler start minus due time.
   Baseline: 200 tasks looping ``await asyncio.sleep(1)``, measured against the one-second grid
   they mean to keep (such loops drift: each sleep starts after the previous wake-up).
2. idle CPU: a service with 200 ``@hourly`` functions; process CPU time over wall time for
   ``--idle-seconds`` once started. Baseline: 200 tasks sleeping for an hour.
Each line prints both figures and the ratio tomodachi/baseline. Targets: p99 lateness < 5 ms,
idle CPU < 1% of a core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable


def resolve_loop(loop: str) -> str:
    if loop != "auto":
        return loop
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def environment(mode: str, functions: int, seconds: float, out: str, loop: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOMODACHI_")}
    env.update(
        BENCH_MODE=mode,
        BENCH_FUNCTIONS=str(functions),
        BENCH_SECONDS=str(seconds),
        BENCH_OUT=out,
        BENCH_LOOP=loop,
        NO_COLOR="1",
    )
    env["PYTHONPATH"] = os.path.join(ROOT, "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(kind: str, mode: str, functions: int, seconds: float, loop: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        if kind == "tomodachi":
            cmd = [
                PY,
                "-m",
                "tomodachi",
                "run",
                "--production",
                "--loop",
                loop,
                os.path.join(HERE, "service.py"),
            ]
        else:
            cmd = [PY, os.path.join(HERE, "naive.py")]
        proc = subprocess.run(
            cmd,
            env=environment(mode, functions, seconds, out, loop),
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        if proc.returncode != 0 or not os.path.exists(out):
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"{kind} {mode} run failed with exit code {proc.returncode}")
        with open(out, encoding="utf-8") as file:
            result: dict[str, Any] = json.load(file)
        return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def ms(value: float) -> str:
    return f"{value * 1000:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="heartbeat run length (default 20)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window (default 10)")
    parser.add_argument("--functions", type=int, default=200, help="scheduled functions (default 200)")
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    args = parser.parse_args()
    loop = resolve_loop(args.loop)
    n = args.functions
    print(f"# bench/schedule  python {sys.version.split()[0]}  loop={loop}  {n} functions")

    ours = run("tomodachi", "heartbeat", n, args.seconds, loop)
    naive = run("naive", "heartbeat", n, args.seconds, loop)
    late, base, own = ours["lateness"], naive["lateness"], naive["own_lateness"]
    expected = n * int(args.seconds)
    p99, base_p99 = percentile(late, 0.99), percentile(base, 0.99)
    title = f"lateness due -> handler start, {n} heartbeats for {args.seconds:g} s"
    print(
        f"{title:<58} tomodachi median {ms(statistics.median(late))}  p99 {ms(p99)}  max {ms(max(late))}"
        f"  ({len(late)}/{expected} invocations)"
    )
    print(
        f"{'  baseline: asyncio.sleep(1) loops, against their 1 s grid':<58} naive     median "
        f"{ms(statistics.median(base))}  p99 {ms(base_p99)}  max {ms(max(base))}"
        f"  ratio p99 {p99 / base_p99:5.2f}x  (target p99 < 5 ms: {'ok' if p99 < 0.005 else 'MISSED'})"
    )
    print(
        f"{'  (the naive loops against their own sleep deadline)':<58} naive     median "
        f"{ms(statistics.median(own))}  p99 {ms(percentile(own, 0.99))}"
    )

    idle = run("tomodachi", "idle", n, args.idle_seconds, loop)
    idle_base = run("naive", "idle", n, args.idle_seconds, loop)
    share = idle["cpu_seconds"] / idle["wall_seconds"]
    base_share = idle_base["cpu_seconds"] / idle_base["wall_seconds"]
    ratio = f"{share / base_share:5.2f}x" if base_share > 0 else "  n/a"
    title = f"idle CPU, {n} hourly functions, {args.idle_seconds:g} s"
    print(
        f"{title:<58} tomodachi {share * 100:6.3f}% of a core  naive {base_share * 100:6.3f}%  ratio {ratio}"
        f"  (target < 1%: {'ok' if share < 0.01 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
