"""Subscriptions and the graphql-transport-ws protocol with a real websocket client: events fed by
an in-memory AMQP message handler of the same service, protocol errors, and a graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.testing import RunningServices, run_services
from tomodachi.transport.graphql import Broadcast, GraphQLContext

PROTOCOL = "graphql-transport-ws"


class Orders(tomodachi.Service):
    name = "orders"
    message_envelope = JsonBase
    graphql_schema = """
        type Query { count: Int! }
        type Mutation { place(item: String!): Int! }
        type Order { id: Int!  item: String! }
        type Subscription {
            orderPlaced(item: String): Order!
            countdown(start: Int!): Int!
            whoami: String!
            failing: Int
        }
    """

    def __init__(self) -> None:
        self.events = Broadcast(max_queue=5)
        self.count = 0
        self.countdowns_closed = 0

    @tomodachi.amqp("order.placed")
    async def on_order_placed(self, data: dict[str, Any]) -> None:
        self.events.publish("orders", data)

    @tomodachi.graphql_query("count")
    async def get_count(self) -> int:
        return self.count

    @tomodachi.graphql_mutation("place")
    async def place(self, item: str) -> int:
        self.count += 1
        await tomodachi.amqp_publish(self, {"id": self.count, "item": item}, routing_key="order.placed")
        return self.count

    @tomodachi.graphql_subscription("orderPlaced")
    async def order_placed(self, item: str | None = None) -> AsyncIterator[dict[str, Any]]:
        async with self.events.subscribe("orders") as orders:
            async for order in orders:
                if item is None or order["item"] == item:
                    yield order

    @tomodachi.graphql_subscription("countdown")
    async def countdown(self, start: int) -> AsyncIterator[int]:
        try:
            for value in range(start, 0, -1):
                yield value
        finally:
            self.countdowns_closed += 1

    @tomodachi.graphql_subscription("whoami")
    async def whoami(self, context: GraphQLContext) -> AsyncIterator[str]:
        assert context.websocket is not None and context.request.method == "GET"
        yield str((context.connection_params or {}).get("user"))

    @tomodachi.graphql_subscription("failing")
    async def failing(self) -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("stream broke: secret")


@contextlib.asynccontextmanager
async def connect(app: RunningServices, **init: Any) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with app.client().ws_connect("/graphql", protocols=[PROTOCOL]) as ws:
        assert ws.protocol == PROTOCOL
        await ws.send_json({"type": "connection_init", **init})
        assert await ws.receive_json(timeout=5) == {"type": "connection_ack"}
        yield ws


async def subscribe(ws: aiohttp.ClientWebSocketResponse, op: str, query: str, **variables: Any) -> None:
    await ws.send_json({"type": "subscribe", "id": op, "payload": {"query": query, "variables": variables}})


def next_(operation: str, data: Any) -> dict[str, Any]:
    return {"type": "next", "id": operation, "payload": {"data": data}}


async def wait_for_subscribers(service: Any, count: int) -> None:
    for _ in range(200):
        if service.events.subscribers("orders") == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"expected {count} subscribers, have {service.events.subscribers('orders')}")


async def test_subscriptions_are_fed_by_a_message_handler_of_the_same_service() -> None:
    async with run_services(Orders) as app:
        service = app[Orders]
        async with connect(app) as ws:
            await subscribe(ws, "all", "subscription { orderPlaced { id item } }")
            await subscribe(ws, "tea", "subscription($i: String) { orderPlaced(item: $i) { item } }", i="tea")
            await wait_for_subscribers(service, 2)
            await app.publish_amqp("order.placed", {"id": 1, "item": "tea"})
            await app.publish_amqp("order.placed", {"id": 2, "item": "cake"})
            received = [await ws.receive_json(timeout=5) for _ in range(3)]
            assert sorted(received, key=lambda m: (m["id"], str(m["payload"]))) == [
                {"type": "next", "id": "all", "payload": {"data": {"orderPlaced": {"id": 1, "item": "tea"}}}},
                {
                    "type": "next",
                    "id": "all",
                    "payload": {"data": {"orderPlaced": {"id": 2, "item": "cake"}}},
                },
                {"type": "next", "id": "tea", "payload": {"data": {"orderPlaced": {"item": "tea"}}}},
            ]
            # a mutation over the same socket publishes through AMQP, the handler feeds the stream
            await subscribe(ws, "m", 'mutation { place(item: "tea") }')
            got = [await ws.receive_json(timeout=5) for _ in range(4)]
            assert {"type": "next", "id": "m", "payload": {"data": {"place": 1}}} in got
            assert {"type": "complete", "id": "m"} in got
            assert {"type": "next", "id": "tea", "payload": {"data": {"orderPlaced": {"item": "tea"}}}} in got
            # the client completes one: its stream is closed (unsubscribed), the other goes on
            await ws.send_json({"type": "complete", "id": "tea"})
            await wait_for_subscribers(service, 1)
            await app.publish_amqp("order.placed", {"id": 9, "item": "tea"})
            assert (await ws.receive_json(timeout=5))["id"] == "all"
        await wait_for_subscribers(service, 0)  # the client went away: every stream closed


async def test_finite_streams_queries_errors_and_connection_params() -> None:
    async with run_services(Orders) as app:
        async with connect(app, payload={"user": "ann"}) as ws:
            await subscribe(ws, "c", "subscription { countdown(start: 3) }")
            assert [await ws.receive_json(timeout=5) for _ in range(4)] == [
                {"type": "next", "id": "c", "payload": {"data": {"countdown": 3}}},
                {"type": "next", "id": "c", "payload": {"data": {"countdown": 2}}},
                {"type": "next", "id": "c", "payload": {"data": {"countdown": 1}}},
                {"type": "complete", "id": "c"},
            ]
            assert app[Orders].countdowns_closed == 1  # type: ignore[attr-defined]
            await subscribe(ws, "q", "{ count }")
            assert await ws.receive_json(timeout=5) == {
                "type": "next",
                "id": "q",
                "payload": {"data": {"count": 0}},
            }
            assert await ws.receive_json(timeout=5) == {"type": "complete", "id": "q"}
            await subscribe(ws, "w", "subscription { whoami }")
            assert (await ws.receive_json(timeout=5))["payload"] == {"data": {"whoami": "ann"}}
            assert await ws.receive_json(timeout=5) == {"type": "complete", "id": "w"}
            # a validation error: one error message, nothing runs
            await subscribe(ws, "bad", "subscription { nothing }")
            message = await ws.receive_json(timeout=5)
            assert message["type"] == "error" and message["id"] == "bad"
            assert message["payload"][0]["message"] == "Cannot query field 'nothing' on type 'Subscription'."
            # a stream that fails: its values, then an error without the exception's text
            await subscribe(ws, "f", "subscription { failing }")
            assert (await ws.receive_json(timeout=5))["payload"] == {"data": {"failing": 1}}
            assert await ws.receive_json(timeout=5) == {
                "type": "error",
                "id": "f",
                "payload": [{"message": "Internal server error"}],
            }
            await ws.send_json({"type": "ping"})
            assert await ws.receive_json(timeout=5) == {"type": "pong"}
        errors = [line for line in app.logs if line["level"] == "error"]
        assert [line["message"] for line in errors] == ["uncaught exception in resolver"]
        assert "stream broke: secret" in errors[0]["exception"] and errors[0]["handler"] == "failing"


async def test_a_subscriber_that_falls_behind_is_ended_with_an_error() -> None:
    async with run_services(Orders) as app:
        service = app[Orders]
        async with connect(app) as ws:
            await subscribe(ws, "slow", "subscription { orderPlaced { id } }")
            await wait_for_subscribers(service, 1)
            for i in range(6):  # max_queue=5, published faster than anything is sent
                service.events.publish("orders", {"id": i, "item": "x"})  # type: ignore[attr-defined]
            message = await ws.receive_json(timeout=5)
            assert message["type"] == "error"
            assert message["payload"][0]["message"].startswith("subscription fell behind")
            assert message["payload"][0]["extensions"] == {"code": "SUBSCRIPTION_OVERFLOW"}
            await wait_for_subscribers(service, 0)


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        ([{"type": "subscribe", "id": "1", "payload": {"query": "{ count }"}}], 4401),
        (["not json"], 4400),
        ([{"type": "connection_init"}, {"type": "connection_init"}], 4429),
        ([{"type": "connection_init"}, {"type": "nonsense"}], 4400),
        (
            [
                {"type": "connection_init"},
                {"type": "subscribe", "id": "1", "payload": {"query": "subscription { orderPlaced { id } }"}},
                {"type": "subscribe", "id": "1", "payload": {"query": "subscription { orderPlaced { id } }"}},
            ],
            4409,
        ),
        ([], 4408),  # no connection_init within graphql.connection_init_timeout
    ],
)
async def test_protocol_violations_close_with_the_protocols_codes(messages: list[Any], code: int) -> None:
    async with run_services(Orders, options={"graphql.connection_init_timeout": 0.2}) as app:
        async with app.client().ws_connect("/graphql", protocols=[PROTOCOL]) as ws:
            for message in messages:
                await (ws.send_str(message) if isinstance(message, str) else ws.send_json(message))
            while True:
                received = await ws.receive(timeout=5)
                if received.type is aiohttp.WSMsgType.TEXT:
                    continue  # connection_ack
                break
            assert received.type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == code
        # the server keeps serving
        async with app.client().post("/graphql", json={"query": "{ count }"}) as response:
            assert await response.json() == {"data": {"count": 0}}


async def test_another_subprotocol_is_refused_with_4406() -> None:
    async with run_services(Orders) as app:
        async with app.client().ws_connect("/graphql", protocols=["graphql-ws"]) as ws:
            received = await ws.receive(timeout=5)
            assert received.type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4406


async def test_a_graceful_stop_completes_subscriptions_and_closes_the_socket() -> None:
    async with aiohttp.ClientSession() as session, contextlib.AsyncExitStack() as stack:
        app = await stack.enter_async_context(run_services(Orders))
        ws = await session.ws_connect(app.url("/graphql"), protocols=[PROTOCOL])
        await ws.send_json({"type": "connection_init"})
        assert await ws.receive_json(timeout=5) == {"type": "connection_ack"}
        await subscribe(ws, "s", "subscription { orderPlaced { id } }")
        await wait_for_subscribers(app[Orders], 1)

        async def read_until_closed() -> list[Any]:
            messages: list[Any] = []
            async for message in ws:
                messages.append(message.json())
            return messages

        reader = asyncio.create_task(read_until_closed())
        started = time.monotonic()
        await stack.aclose()  # stops the services while the socket is open
        assert await asyncio.wait_for(reader, 5) == [{"type": "complete", "id": "s"}]
        assert ws.close_code == 1001
        assert time.monotonic() - started < 5  # not the 30 s grace period
        assert app[Orders].events.subscribers("orders") == 0  # type: ignore[attr-defined]


async def test_operations_per_connection_are_bounded() -> None:
    async with run_services(Orders, options={"graphql.max_subscriptions": 1}) as app:
        async with connect(app) as ws:
            await subscribe(ws, "1", "subscription { orderPlaced { id } }")
            await subscribe(ws, "2", "subscription { orderPlaced { id } }")
            message = await ws.receive_json(timeout=5)
            assert (message["type"], message["id"]) == ("error", "2")
            assert message["payload"][0]["extensions"] == {"code": "TOO_MANY_OPERATIONS"}
            await ws.send_json({"type": "ping"})
            assert await ws.receive_json(timeout=5) == {"type": "pong"}  # the connection stays


async def refuse_without_token(func: Any, service: Any, request: Any) -> Any:
    if "token" not in request.query:
        return 401, "no token"
    return await func(token=request.query["token"])


class TokenOrders(Orders):
    name = "token-orders"
    http_middleware = [refuse_without_token]
    graphql_schema = Orders.graphql_schema.replace("whoami: String!", "whoami: String!\n token: String!")

    @tomodachi.graphql_subscription("token")
    async def token_stream(self, token: str) -> AsyncIterator[str]:
        yield token


async def test_http_middleware_runs_before_the_upgrade_and_its_keywords_reach_subscriptions() -> None:
    async with run_services(TokenOrders, options={"graphql.mask_errors": False}) as app:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await app.client().ws_connect("/graphql", protocols=[PROTOCOL])
        assert refused.value.status == 401
        async with app.client().ws_connect("/graphql?token=t-1", protocols=[PROTOCOL]) as ws:
            await ws.send_json({"type": "connection_init"})
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            await subscribe(ws, "t", "subscription { token }")
            assert await ws.receive_json(timeout=5) == next_("t", {"token": "t-1"})
            assert await ws.receive_json(timeout=5) == {"type": "complete", "id": "t"}
            # graphql.mask_errors=False: the exception's message (never a traceback)
            await subscribe(ws, "f", "subscription { failing }")
            assert await ws.receive_json(timeout=5) == next_("f", {"failing": 1})
            message = await ws.receive_json(timeout=5)
            assert message["payload"][0]["message"] == "stream broke: secret"
