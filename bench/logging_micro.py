"""Micro-benchmark: one HTTP access-log line through tomodachi logging vs stdlib logging.

Run:  .venv/bin/python bench/logging_micro.py   (from the project root; src/ is added to sys.path)

Each case writes 50,000 lines to the same ``os.devnull`` text stream; the best of 5 rounds is
reported as µs per line, with the ratio to the stdlib baseline from the same run.

* ours/console: ``get_logger("tomodachi.http.response").info("", status_code=..., ...)`` with 10
  key/values, as the HTTP transport writes its access log, console format without colours.
* ours/json: the same call with the JSON format (orjson when installed).
* stdlib (baseline): what aiohttp's ``AccessLogger`` does per request: %-format the message,
  build the ``extra`` dict, ``logger.info(message, extra=extra)``, to a ``StreamHandler`` with
  ``Formatter("%(asctime)s [%(levelname)-9s] %(message)-30s [%(name)s]")``. Also shown without
  ``extra=`` (the leanest stdlib call), for reference; ratios are to the aiohttp-style baseline.
* stdlib via tomodachi root handler: a stdlib ``logger.info(message)`` rendered by our console
  output (how aiohttp's/asyncio's own records are shown).
* ours, below level: a debug call while the level is info (the price of a filtered call).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import tomodachi.logging as tlog

LINES = 50_000
ROUNDS = 5

STATUS = 201
REMOTE_IP = "127.0.0.1"
METHOD = "POST"
PATH = "/test_ignore_one"
VERSION = "HTTP/1.1"
LENGTH = 8
USER_AGENT = "Python/3.11 aiohttp/3.14.5"
ACCESS_LOG_FORMAT = '%s "%s %s %s" %d %d "%s" %s %s'


def best_of(run: Callable[[], None]) -> float:
    """Best wall time of ROUNDS runs of *run*, in µs per line."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / LINES * 1e6


def bench_ours(stream: object, logger_type: str) -> float:
    tlog.configure(logger_type, "info", stream=stream, color=False)  # type: ignore[arg-type]
    logger = tlog.get_logger("tomodachi.http.response")

    def run() -> None:
        info = logger.info
        for i in range(LINES):
            info(
                "",
                status_code=STATUS,
                remote_ip=REMOTE_IP,
                request_method=METHOD,
                request_path=PATH,
                http_version=VERSION,
                response_content_length=LENGTH,
                user_agent=USER_AGENT,
                handler_elapsed_time=f"{i * 1e-7:.5f}s",
                request_time=f"{i * 1e-7:.5f}s",
                request_content_length=10,
            )

    return best_of(run)


def bench_ours_filtered(stream: object) -> float:
    tlog.configure("console", "info", stream=stream, color=False)  # type: ignore[arg-type]
    logger = tlog.get_logger("tomodachi.http.response")

    def run() -> None:
        debug = logger.debug
        for _ in range(LINES):
            debug("", status_code=STATUS, remote_ip=REMOTE_IP)

    return best_of(run)


def bench_stdlib(stream: object, with_extra: bool = True) -> float:
    logger = logging.getLogger("bench.aiohttp.access")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter(tlog.DEFAULT_FORMAT))
    logger.addHandler(handler)

    def run() -> None:
        info = logger.info
        for i in range(LINES):
            handler_time = f"{i * 1e-7:.5f}s"
            request_time = f"{i * 1e-7:.5f}s"
            values = (
                REMOTE_IP,
                METHOD,
                PATH,
                VERSION,
                STATUS,
                LENGTH,
                USER_AGENT,
                handler_time,
                request_time,
            )
            extra = {
                "remote_address": REMOTE_IP,
                "first_request_line": f"{METHOD} {PATH} {VERSION}",
                "response_status": STATUS,
                "response_size": LENGTH,
                "request_header": {"User-Agent": USER_AGENT},
                "request_time": request_time,
            }
            if with_extra:
                info(ACCESS_LOG_FORMAT % values, extra=extra)
            else:
                info(ACCESS_LOG_FORMAT % values)

    try:
        return best_of(run)
    finally:
        logger.removeHandler(handler)


def bench_stdlib_through_root(stream: object) -> float:
    tlog.configure("console", "info", stream=stream, color=False)  # type: ignore[arg-type]
    logger = logging.getLogger("bench.stdlib.via.root")

    def run() -> None:
        info = logger.info
        for i in range(LINES):
            info('%s "%s %s %s" %d', REMOTE_IP, METHOD, PATH, VERSION, i)

    return best_of(run)


def main() -> None:
    with open(os.devnull, "w") as stream:
        stdlib = bench_stdlib(stream)
        stdlib_lean = bench_stdlib(stream, with_extra=False)
        console = bench_ours(stream, "console")
        json_ = bench_ours(stream, "json")
        via_root = bench_stdlib_through_root(stream)
        filtered = bench_ours_filtered(stream)
    tlog.remove_handlers()
    print(f"{LINES} access-log lines, best of {ROUNDS} rounds, Python {sys.version.split()[0]}")
    print(f"  stdlib logging (aiohttp-style, baseline): {stdlib:6.2f} µs/line")
    print(f"  stdlib logging, same without extra=:      {stdlib_lean:6.2f} µs/line")
    print(
        f"  tomodachi console:                        {console:6.2f} µs/line  ratio {console / stdlib:.2f}x"
    )
    print(f"  tomodachi json:                           {json_:6.2f} µs/line  ratio {json_ / stdlib:.2f}x")
    print(
        f"  stdlib record via tomodachi root handler: {via_root:6.2f} µs/line  ratio {via_root / stdlib:.2f}x"
    )
    print(
        f"  tomodachi call below the level:           {filtered:6.2f} µs/line  ratio {filtered / stdlib:.2f}x"
    )


if __name__ == "__main__":
    main()
