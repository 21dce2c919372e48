"""The other of two service files run together: receives the order published by the first."""

import json
from typing import Any

from pubsub_orders_service import OPTIONS

import tomodachi
from tomodachi.envelope import JsonBase


class Shipping(tomodachi.Service):
    name = "compat_shipping"
    message_envelope = JsonBase
    options = OPTIONS

    @tomodachi.aws_sns_sqs("compat-order-created")
    async def ship(self, data: Any, service: Any) -> None:
        orders = tomodachi.get_service("compat_orders")
        values = {
            "event": "shipped",
            "data": data,
            "from": service["name"],
            "orders_uuid_matches": orders is not None and service["uuid"] == orders.uuid,
            "services": sorted(tomodachi.get_services()),
        }
        print("COMPAT " + json.dumps(values), flush=True)
        tomodachi.exit()
