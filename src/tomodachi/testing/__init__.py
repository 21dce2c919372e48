"""Test services in-process: the in-memory broker, an HTTP client, a manual clock, captured logs.

::

    from tomodachi.testing import run_services

    async def test_order_is_handled():
        async with run_services(Orders) as app:
            delivery = await app.publish("order.created", {"id": 1})
            report = await delivery.outcome(timeout=5)
            assert report.handled
            shipped = await app.wait_for_published("order.shipped", match=lambda m: m.data["id"] == 1)

With pytest, the fixtures ``tomodachi_services`` (the same as :func:`run_services`) and
``manual_clock`` are available once ``tomodachi.testing.pytest_plugin`` is loaded (it is
registered as a pytest plugin when tomodachi is installed).
"""

from tomodachi.clock import ManualClock
from tomodachi.testing.dead_letters import DeadLetterMessage
from tomodachi.testing.delivery import Delivery, DeliveryReport, DeliveryTimeout
from tomodachi.testing.harness import RunningServices, run_service_files, run_services
from tomodachi.testing.outbound import PublishedMessage, PublishedTimeout

__all__ = [
    "DeadLetterMessage",
    "Delivery",
    "DeliveryReport",
    "DeliveryTimeout",
    "ManualClock",
    "PublishedMessage",
    "PublishedTimeout",
    "RunningServices",
    "run_service_files",
    "run_services",
]
