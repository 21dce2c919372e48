"""A ``_started_service`` that never returns; SIGTERM still stops the service gracefully."""

import asyncio

import tomodachi


class StartedForever(tomodachi.Service):
    name = "compat_started_forever"

    async def _started_service(self) -> None:
        print('COMPAT {"event": "started_service"}', flush=True)
        await asyncio.Future()

    async def _stopping_service(self) -> None:
        print('COMPAT {"event": "stopping_service"}', flush=True)

    async def _stop_service(self) -> None:
        print('COMPAT {"event": "stop_service"}', flush=True)
