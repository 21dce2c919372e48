"""GraphQL next to HTTP routes and message handlers: a small order desk.

- ``POST/GET /graphql``: queries (``orders``, ``order``), a mutation (``placeOrder``) and a field
  resolver (``Order.customer``), all service methods;
- ``/graphql`` over a websocket (graphql-transport-ws): the ``orderPlaced`` subscription, fed
  by the ``@amqp("order.placed")`` handler of the same service through a ``Broadcast``;
- ``GET /graphql`` in a browser: GraphiQL (not with ``--production``);
- ``GET /health``: an ordinary HTTP route.

Run it without RabbitMQ (the message handler then runs on the in-memory broker)::

    tomodachi run --message-broker memory examples/graphql/app.py

and try::

    curl -s localhost:9700/graphql -H 'Content-Type: application/json' \\
         -d '{"query": "mutation { placeOrder(item: \\"tea\\", customerId: \\"c1\\") { id } }"}'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

import tomodachi
from tomodachi.envelope import JsonBase

# Importing the package registers the graphql.* options used in the class body below.
from tomodachi.transport.graphql import Broadcast, GraphQLError

CUSTOMERS = {"c1": {"id": "c1", "name": "Ann"}, "c2": {"id": "c2", "name": "Bo"}}


async def request_id(func: Callable[..., Awaitable[Any]], service: Any, request: web.BaseRequest) -> Any:
    """An HTTP middleware: it wraps the GraphQL endpoint too; resolvers may take `request_id`."""
    return await func(request_id=request.headers.get("X-Request-Id", "-"))


class OrderDesk(tomodachi.Service):
    name = "order-desk"
    message_envelope = JsonBase
    http_middleware = [request_id]
    options = tomodachi.Options(
        http={"port": 9700},
        graphql={"path": "/graphql", "max_depth": 6, "max_complexity": 200},
    )

    graphql_schema = """
        type Query {
            orders: [Order!]!
            order(id: ID!): Order
        }
        type Mutation {
            placeOrder(item: String!, customerId: ID!): Order!
        }
        type Subscription {
            orderPlaced(item: String): Order!
        }
        type Order {
            id: ID!
            item: String!
            customer: Customer!
        }
        type Customer {
            id: ID!
            name: String!
        }
    """

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.events = Broadcast()

    # -- GraphQL -------------------------------------------------------------------------------
    @tomodachi.graphql_query("orders")
    async def list_orders(self) -> list[dict[str, Any]]:
        return list(self.orders.values())

    @tomodachi.graphql_query("order")
    async def get_order(self, id: str) -> dict[str, Any] | None:
        return self.orders.get(id)

    @tomodachi.graphql_mutation("placeOrder")
    async def place_order(self, item: str, customer_id: str, request_id: str) -> dict[str, Any]:
        if customer_id not in CUSTOMERS:
            raise GraphQLError(f"No customer {customer_id!r}.", extensions={"code": "NOT_FOUND"})
        order = {"id": str(len(self.orders) + 1), "item": item, "customerId": customer_id}
        self.orders[order["id"]] = order
        tomodachi.get_logger().info("order placed", order_id=order["id"], request_id=request_id)
        # Other services hear of it over AMQP; so does this one's subscription feed, below.
        await tomodachi.amqp_publish(self, order, routing_key="order.placed")
        return order

    @tomodachi.graphql_field("Order", "customer")
    async def order_customer(self, parent: dict[str, Any]) -> dict[str, str]:
        return CUSTOMERS[parent["customerId"]]

    @tomodachi.graphql_subscription("orderPlaced")
    async def order_placed(self, item: str | None = None) -> AsyncIterator[dict[str, Any]]:
        async with self.events.subscribe("orders") as orders:  # closed when the client completes
            async for order in orders:
                if item is None or order["item"] == item:
                    yield order

    # -- messages and plain HTTP ---------------------------------------------------------------
    @tomodachi.amqp("order.placed")
    async def on_order_placed(self, data: dict[str, Any]) -> None:
        self.events.publish("orders", data)

    @tomodachi.http("GET", r"/health")
    async def health(self) -> str:
        return "ok"
