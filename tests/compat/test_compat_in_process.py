"""Corpus service files run in-process with ``tomodachi.testing.run_service_files`` (the in-memory
broker, free ports): the same files, the same behaviour as under ``tomodachi run``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat._compat_support import SERVICES
from tomodachi.testing import run_service_files

# the corpus uses deprecated styles on purpose (dict options, self.log, message_protocol)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_http_service_in_process() -> None:
    async with run_service_files(SERVICES / "http_service.py") as app:
        client = app.client()
        for path, status, body in [
            ("/test/5", 200, "test 5"),
            ("/tuple", 200, "test tuple"),
            ("/list", 201, "test list"),
            ("/ytest/0", 200, "/ytest/0 test 0"),
            ("/static/hello.txt", 200, "hello from static\n"),
            ("/not-a-route", 404, "not found 404"),
            ("/exception", 500, "error 500"),
        ]:
            async with client.get(path) as response:
                assert (response.status, await response.text()) == (status, body), path


async def test_lifecycle_service_in_process() -> None:
    async with run_service_files(SERVICES / "lifecycle_service.py") as app:
        assert await app.wait_for_exit(timeout=10) == 0
        service: Any = app.service  # a class from the service file: its attributes are unknown here
    order = service.function_order
    assert order[:2] == ["_start_service", "_started_service"], order
    assert order[-2:] == ["_stopping_service", "_stop_service"], order
    assert set(order[2:-2]) == {"every_second"}, order


async def test_amqp_service_in_process() -> None:
    async with run_service_files(SERVICES / "amqp_service.py") as app:
        assert await app.wait_for_exit(timeout=10) == 0
        seen = getattr(app.service, "seen")  # noqa: B009  (an attribute of the file's service class)
    assert seen["shared"] == 1
    assert seen["retried"] == 2
    assert seen["callback_kwargs"] == {"routing_key": "compat.topic", "metadata": "untouched"}
    assert seen["custom"] == {"envelope": "custom", "metadata": None}
