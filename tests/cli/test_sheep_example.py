"""The user story of the README: the sleepy-sheep example through the real CLI and signals.

``examples/sheep/app.py`` runs unchanged; a ``-c`` config file only moves it to a random
port so the test never collides with anything listening on 9700.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

SHEEP = str(Path(__file__).resolve().parents[2] / "examples" / "sheep" / "app.py")


def _port(line: str) -> int:
    match = re.search(r"listen_port=(\d+)", line)
    assert match, line
    return int(match.group(1))


def _server_sockets(port: int) -> tuple[int, list[int]]:
    """(accept backlog of the listener, unread bytes of each accepted connection) from /proc."""
    backlog, unread = 0, []
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            if local_port != port:
                continue
            rx_queue = int(fields[4].split(":")[1], 16)
            if fields[3] == "0A":  # LISTEN: rx_queue is the number of connections not yet accepted
                backlog = rx_queue
            elif fields[3] == "01":  # ESTABLISHED
                unread.append(rx_queue)
    return backlog, unread


async def _until_server_read_everything(port: int, connections: int, timeout: float = 10) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        backlog, unread = _server_sockets(port)
        if backlog == 0 and len(unread) >= connections and not any(unread):
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"server did not read all requests: {_server_sockets(port)}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_sleeping_posts_finish_after_the_stop_signal_and_exit_is_0(
    spawn: Any, tmp_path: Path, signum: int
) -> None:
    config = tmp_path / "port.json"
    config.write_text(json.dumps({"options": {"http": {"port": 0}}}))
    process = spawn("run", "--production", SHEEP, "-c", str(config))
    port = _port(await asyncio.to_thread(process.wait_for_stderr, "accepting http requests"))
    base = f"http://127.0.0.1:{port}"

    sent = 0
    all_sent = asyncio.Event()

    async def on_headers_sent(*_: Any) -> None:
        nonlocal sent
        sent += 1
        if sent == 21:  # the GET below and the 20 POSTs
            all_sent.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_headers_sent)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        async with session.get(f"{base}/sheep") as response:
            assert response.status == 200
            assert await response.text() == "0"

        async def post() -> tuple[int, str]:
            async with session.post(f"{base}/sheep") as response:
                return response.status, await response.text()

        posts = [asyncio.create_task(post()) for _ in range(20)]
        # Each POST sleeps up to a second: stop once all were sent, while most still sleep.
        await asyncio.wait_for(all_sent.wait(), 10)
        # "Sent" is the client's view: wait until the server has accepted every connection and
        # read every request, or the stop would (rightly) reset connections still in the backlog.
        await _until_server_read_everything(port, connections=20)
        process.send(signum)
        results = await asyncio.gather(*posts)

    assert [status for status, _ in results] == [200] * 20
    assert sorted(int(body) for _, body in results) == list(range(1, 21))
    assert await asyncio.to_thread(process.wait) == 0
    stderr = process.stderr
    assert "Traceback" not in stderr
    assert stderr.index("stopping service") < stderr.index("terminated service")


async def test_requests_are_refused_once_the_service_stopped(spawn: Any, tmp_path: Path) -> None:
    config = tmp_path / "port.json"
    config.write_text(json.dumps({"options": {"http": {"port": 0}}}))
    process = spawn("run", "--production", SHEEP, "-c", str(config))
    port = _port(await asyncio.to_thread(process.wait_for_stderr, "accepting http requests"))
    process.send(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait) == 0
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"http://127.0.0.1:{port}/sheep")


async def test_access_lines_appear_while_idle_and_none_is_lost_on_a_stop(spawn: Any, tmp_path: Path) -> None:
    # Access lines are written in batches (at most 20 ms after the first); on an idle service a
    # line still appears well within a second, and a stop writes whatever is still waiting.
    config = tmp_path / "port.json"
    config.write_text(json.dumps({"options": {"http": {"port": 0}}}))
    process = spawn("run", "--production", SHEEP, "-c", str(config))
    port = _port(await asyncio.to_thread(process.wait_for_stderr, "accepting http requests"))
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/sheep?first=1") as response:
            assert response.status == 200
        await asyncio.to_thread(process.wait_for_stderr, r"request_query_string=first=1", 1.0)

        async def get(n: int) -> int:
            async with session.get(f"{base}/sheep?n={n}") as response:
                return response.status

        assert await asyncio.gather(*(get(n) for n in range(50))) == [200] * 50
        process.send(signal.SIGTERM)  # at once: the last lines are still waiting to be written
    assert await asyncio.to_thread(process.wait) == 0
    lines = [line for line in process.stderr_lines if "[tomodachi.http.response]" in line]
    logged = sorted(int(line.split("request_query_string=n=")[1].split()[0]) for line in lines[1:])
    assert logged == list(range(50))
    stderr = process.stderr
    assert stderr.index("request_query_string=first=1") < stderr.index("stopping service")
