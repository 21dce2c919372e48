"""The pub/sub example: two service files in one ``tomodachi run``, no broker installed."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import aiohttp

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pubsub"


async def test_orders_reach_shipping_through_the_in_memory_broker_with_the_filter(
    spawn: Any, tmp_path: Path
) -> None:
    config = tmp_path / "ports.json"
    config.write_text(json.dumps({"options": {"http": {"port": 0}}}))
    process = spawn(
        "run",
        "--production",
        "--message-broker",
        "memory",
        str(EXAMPLE / "orders.py"),
        str(EXAMPLE / "shipping.py"),
        "-c",
        str(config),
    )
    first = await asyncio.to_thread(process.wait_for_stderr, "accepting http requests")
    await asyncio.to_thread(process.wait_for_stderr, "started service successfully")
    lines = [line for line in process.stderr.splitlines() if "accepting http requests" in line]
    assert len(lines) == 2, first
    ports = [int(m.group(1)) for line in lines if (m := re.search(r"listen_port=(\d+)", line))]

    async with aiohttp.ClientSession() as session:
        orders = shipping = None
        for port in ports:
            async with session.get(f"http://127.0.0.1:{port}/shipped") as response:
                if response.status == 200:
                    shipping = f"http://127.0.0.1:{port}"
                else:
                    orders = f"http://127.0.0.1:{port}"
        assert orders and shipping
        for query in (
            "country=SE&amount=120",
            "country=US&amount=500",
            "country=NO&amount=50",
            "country=DK&amount=100",
        ):
            async with session.post(f"{orders}/orders?{query}") as response:
                assert response.status == 201

        deadline = asyncio.get_running_loop().time() + 10
        shipped = ""
        while asyncio.get_running_loop().time() < deadline:
            async with session.get(f"{shipping}/shipped") as response:
                shipped = await response.text()
            if shipped.count(",") == 1:
                break
            await asyncio.sleep(0.05)
        assert sorted(shipped.split(",")) == ["1", "4"]  # SE 120 and DK 100; US and NO 50 filtered out

    process.send(signal.SIGINT)
    assert await asyncio.to_thread(process.wait) == 0
