import asyncio

import tomodachi


class ExitCodeService(tomodachi.Service):
    name = "compat_exit_code"

    async def _started_service(self) -> None:
        async def _exit() -> None:
            await asyncio.sleep(0.05)
            tomodachi.exit(128)

        asyncio.ensure_future(_exit())

    async def _stop_service(self) -> None:
        print('COMPAT {"event": "stopped"}', flush=True)
