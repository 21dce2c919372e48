"""examples/postgres_queue/app.py, run by ``tomodachi run`` as a user would (in memory and on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.examples._pgqueue_support import drop_table, unique_table

APP = Path(__file__).resolve().parents[2] / "examples" / "postgres_queue" / "app.py"


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str]]:
    table = unique_table()
    yield request.param, table
    if request.param == "postgres":
        await drop_table(table)


async def test_the_app_sends_retries_and_rejects_emails(
    spawn: Any, tmp_path: Path, broker: tuple[str, str]
) -> None:
    name, table = broker
    config = tmp_path / "config.json"
    options = {"http": {"port": 0}, "pg_queue": {"table": table}, "retry": {"initial_delay": 0.1}}
    config.write_text(json.dumps({"options": options}))
    flags = ["--message-broker", "memory"] if name == "memory" else []
    process = spawn("run", "--production", *flags, str(APP), "-c", str(config))
    line = await asyncio.to_thread(process.wait_for_stderr, "accepting http requests")
    await asyncio.to_thread(process.wait_for_stderr, "started service successfully")
    match = re.search(r"listen_port=(\d+)", line)
    assert match, line
    url = f"http://127.0.0.1:{match.group(1)}/emails"

    async with aiohttp.ClientSession() as session:
        for to in ("a@example.com", "flaky@example.com", "x@y.invalid"):
            async with session.post(url, params={"to": to}) as response:
                assert response.status == 202
                assert (await response.text()).isdigit()

    await asyncio.to_thread(process.wait_for_stderr, r"email sent .*to=a@example\.com")
    await asyncio.to_thread(process.wait_for_stderr, r"email sent .*to=flaky@example\.com.*attempt=2")
    await asyncio.to_thread(
        process.wait_for_stderr, r"message dead-lettered .*cannot deliver to x@y\.invalid"
    )
    process.send(signal.SIGINT)
    assert await asyncio.to_thread(process.wait) == 0
