"""HTTP on a fixed port with a slow ``_start_service``: requests are refused until it is done."""

import asyncio
import os

import tomodachi


class SlowStart(tomodachi.Service):
    name = "compat_slow_start"
    options = {"http": {"port": int(os.environ["COMPAT_PORT"])}}

    @tomodachi.http("GET", r"/")
    async def index(self) -> str:
        return "ok"

    async def _start_service(self) -> None:
        print('COMPAT {"event": "start_service"}', flush=True)
        await asyncio.sleep(1.0)

    async def _started_service(self) -> None:
        print('COMPAT {"event": "started_service"}', flush=True)
