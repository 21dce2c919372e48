"""Deferred lines (the HTTP access log): written together within DEFER_SECONDS, in order."""

from __future__ import annotations

import asyncio
import io

import tomodachi.logging as tlog
from tomodachi.logging.outputs import DEFER_SECONDS, defer, flush_deferred


def test_deferred_lines_keep_their_order_and_are_written_within_the_defer_window() -> None:
    stream = io.StringIO()
    tlog.configure("console", "info", stream=stream, color=False)
    log = tlog.get_logger("t.deferred")
    try:

        async def main() -> list[str]:
            loop = asyncio.get_running_loop()
            started = loop.time()
            defer(lambda: log.info("first"))
            defer(lambda: log.info("second"))
            await asyncio.sleep(0)
            assert stream.getvalue() == ""  # not after one iteration: they wait to be written together
            deadline = started + 1.0
            while not stream.getvalue() and loop.time() < deadline:  # noqa: ASYNC110 - polls a StringIO
                await asyncio.sleep(0.001)
            waited = loop.time() - started
            assert DEFER_SECONDS * 0.9 <= waited < DEFER_SECONDS + 0.5
            written = stream.getvalue()
            defer(lambda: log.info("third"))
            log.info("direct")  # a direct line writes the deferred ones first
            return [written, stream.getvalue()]

        early, late = asyncio.run(main())
        assert [line.split()[3] for line in early.splitlines()] == ["first", "second"]
        assert [line.split()[3] for line in late.splitlines()] == ["first", "second", "third", "direct"]
    finally:
        flush_deferred()
        tlog.remove_handlers()
        tlog.configure("console", "info")


def test_deferred_outside_a_loop_is_immediate() -> None:
    stream = io.StringIO()
    tlog.configure("json", "info", stream=stream)
    try:
        defer(lambda: tlog.get_logger("t.deferred").info("now"))
        assert '"message":"now"' in stream.getvalue()
    finally:
        tlog.remove_handlers()
        tlog.configure("console", "info")
