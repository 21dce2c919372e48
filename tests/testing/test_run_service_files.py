"""``tomodachi.testing.run_service_files``: service files run in-process as ``tomodachi run`` runs them.

What a team migrating from the original needs to keep its integration tests: the files unchanged,
on the real brokers or the in-memory one, on their fixed ports or on free ones.
"""

from __future__ import annotations

import socket
import textwrap
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import tomodachi
from tomodachi.importer import ServiceFileError
from tomodachi.testing import run_service_files

# A service written the way the original's users write their integration-test services: options
# as a dict, a JsonBase envelope, and tomodachi.exit() once it saw its own message.
SERVICE = """
import asyncio
import os

import tomodachi
from tomodachi.envelope import JsonBase

from .helpers.naming import routing_key


class EchoService(tomodachi.Service):
    name = "echo"
    message_envelope = JsonBase
    options = {{
        "http": {{"port": {port}}},
        "amqp": {{"queue_ttl": 60, "routing_key_prefix": "{prefix}", "queue_name_prefix": "{prefix}"}},
    }}

    async def _start_service(self):
        self.closer = asyncio.get_running_loop().create_future()

    @tomodachi.http("GET", r"/ping")
    async def ping(self, request):
        return "pong"

    @tomodachi.amqp(routing_key())
    async def on_echo(self, data, metadata):
        if not self.closer.done():
            self.closer.set_result(data)

    async def _started_service(self):
        async def finish():
            await asyncio.wait_for(self.closer, 10)
            tomodachi.exit({exit_code})

        self.finisher = asyncio.ensure_future(finish())
        await tomodachi.amqp_publish(self, {{"hello": "world"}}, routing_key())
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_service(root: Path, *, port: int, exit_code: int) -> Path:
    services = root / "services"  # no __init__.py: the relative import still works
    (services / "helpers").mkdir(parents=True)
    (services / "helpers" / "__init__.py").write_text("")
    (services / "helpers" / "naming.py").write_text("def routing_key():\n    return 'echo.said'\n")
    path = services / "echo_service.py"
    prefix = f"tomodachi-test-{uuid.uuid4().hex[:8]}-"
    path.write_text(textwrap.dedent(SERVICE).format(port=port, prefix=prefix, exit_code=exit_code))
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.rabbitmq
async def test_file_on_rabbitmq_and_its_fixed_port(tmp_path: Path) -> None:
    port = _free_port()
    path = _write_service(tmp_path, port=port, exit_code=0)
    async with run_service_files(path, message_broker=None, http_port=None) as app:
        async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}/ping") as response:
            assert await response.text() == "pong"
        assert await app.wait_for_exit(timeout=20) == 0
        echo: Any = app["echo"]  # a class from the service file: its attributes are unknown here
        assert echo.closer.result() == {"hello": "world"}
        assert app.service.readiness == {"http": True, "amqp": True}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_file_on_the_memory_broker_and_a_free_port_with_exit_code(tmp_path: Path) -> None:
    fixed = _free_port()
    path = _write_service(tmp_path, port=fixed, exit_code=3)
    async with run_service_files(str(path)) as app:
        assert app.service.context["_http_port"] != fixed
        async with app.client() as client, client.get("/ping") as response:
            assert await response.text() == "pong"
        assert await app.wait_for_exit(timeout=10) == 3
    assert tomodachi.SERVICE_EXIT_CODE == 3
    # A new run starts from the default exit code again.
    async with run_service_files(path) as app:
        assert app.exit_code in (0, 3)  # 3 only once this run's service called exit(3)
        assert await app.wait_for_exit(timeout=10) == 3


async def test_file_without_a_service_class_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nothing.py"
    path.write_text("class NotAService:\n    pass\n")
    with pytest.raises(ServiceFileError, match="no transport handlers defined"):
        async with run_service_files(path):
            pass
