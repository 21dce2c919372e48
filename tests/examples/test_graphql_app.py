"""examples/graphql/app.py: in-process (queries, a mutation, the subscription fed by its AMQP
handler on the in-memory broker) and as ``tomodachi run --production`` (no introspection, no
GraphiQL page)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import aiohttp

from tomodachi.testing import run_service_files

APP = Path(__file__).resolve().parents[2] / "examples" / "graphql" / "app.py"
INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_the_example_serves_queries_mutations_and_subscriptions() -> None:
    async with run_service_files(APP) as app:
        client = app.client()
        async with client.get("/health") as response:
            assert await response.text() == "ok"
        async with client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
            await ws.send_json({"type": "connection_init"})
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            query = 'subscription { orderPlaced(item: "tea") { id item customer { name } } }'
            await ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": query}})
            service: Any = app.service
            for _ in range(200):
                if service.events.subscribers("orders"):
                    break
                await asyncio.sleep(0.01)
            mutation = 'mutation { placeOrder(item: "tea", customerId: "c1") { id customer { name } } }'
            headers = {"X-Request-Id": "r-1"}
            async with client.post("/graphql", json={"query": mutation}, headers=headers) as response:
                assert await response.json() == {
                    "data": {"placeOrder": {"id": "1", "customer": {"name": "Ann"}}}
                }
            event = await ws.receive_json(timeout=5)
            assert event["payload"] == {
                "data": {"orderPlaced": {"id": "1", "item": "tea", "customer": {"name": "Ann"}}}
            }
        placed = [line for line in app.logs if line["message"] == "order placed"]
        assert placed[0]["request_id"] == "r-1"  # the middleware's keyword reached the resolver
        async with client.post("/graphql", json={"query": '{ order(id: "1") { item } orders { id } }'}) as r:
            assert await r.json() == {"data": {"order": {"item": "tea"}, "orders": [{"id": "1"}]}}
        bad = 'mutation { placeOrder(item: "x", customerId: "nobody") { id } }'
        async with client.post("/graphql", json={"query": bad}) as response:
            body = await response.json()
            assert body["errors"][0]["message"] == "No customer 'nobody'."
        async with client.post("/graphql", json={"query": INTROSPECTION}) as response:
            assert response.status == 200  # not production: introspection is on


async def test_production_turns_introspection_and_graphiql_off(spawn: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"options": {"http": {"port": 0, "host": "127.0.0.1"}}}))
    process = spawn("run", "--production", "--message-broker", "memory", str(APP), "-c", str(config))
    line = await asyncio.to_thread(process.wait_for_stderr, "accepting http requests")
    await asyncio.to_thread(process.wait_for_stderr, "started service successfully")
    match = re.search(r"listen_port=(\d+)", line)
    assert match, line
    url = f"http://127.0.0.1:{match.group(1)}/graphql"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"query": INTROSPECTION}) as response:
            assert response.status == 400
            assert "introspection" in (await response.json())["errors"][0]["message"].lower()
        async with session.get(url, headers={"Accept": "text/html"}) as response:
            assert response.status == 400 and response.content_type == "application/json"
        async with session.post(url, json={"query": "{ orders { id } }"}) as response:
            assert await response.json() == {"data": {"orders": []}}
    process.send(signal.SIGINT)
    assert await asyncio.to_thread(process.wait) == 0
