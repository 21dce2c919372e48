"""The publishing half of the pub/sub example: an HTTP API that publishes "order.created".

Run both halves, with no broker installed, in one process:

    tomodachi run --message-broker memory examples/pubsub/orders.py examples/pubsub/shipping.py

then ``curl -X POST 'localhost:9700/orders?country=SE&amount=120'``. With RabbitMQ or AWS,
drop ``--message-broker memory`` and set the endpoints in the options (see docs/messaging.md).
"""

import tomodachi
from tomodachi.envelope import JsonBase


class Orders(tomodachi.Service):
    name = "orders"
    message_envelope = JsonBase
    _next_id = 0

    @tomodachi.http("POST", r"/orders")
    async def create_order(self, request):
        self._next_id += 1
        order = {
            "id": self._next_id,
            "country": request.query.get("country", "SE"),
            "amount": float(request.query.get("amount", "0")),
        }
        await tomodachi.aws_sns_sqs_publish(
            self,
            order,
            "order.created",
            message_attributes={"country": order["country"], "amount": order["amount"]},
        )
        self.logger.info("order created", order_id=order["id"])
        return 201, str(order["id"])
