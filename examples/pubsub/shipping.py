"""The consuming half of the pub/sub example: ships orders to the Nordics worth 100 or more.

The filter policy runs in the broker (SNS, or the in-memory broker): other orders never reach
this service. See orders.py for how to run both.
"""

import tomodachi
from tomodachi.envelope import JsonBase


class Shipping(tomodachi.Service):
    name = "shipping"
    message_envelope = JsonBase
    options = tomodachi.Options(http={"port": 9701})
    shipped: list

    async def _start_service(self):
        self.shipped = []

    @tomodachi.aws_sns_sqs(
        "order.created",
        competing=True,
        filter_policy={"country": ["SE", "NO", "DK", "FI"], "amount": [{"numeric": [">=", 100]}]},
    )
    async def ship(self, data, topic):
        self.shipped.append(data["id"])
        self.logger.info("shipping order", order_id=data["id"], topic=topic)

    @tomodachi.http("GET", r"/shipped")
    async def list_shipped(self, request):
        return 200, ",".join(str(order_id) for order_id in self.shipped)
