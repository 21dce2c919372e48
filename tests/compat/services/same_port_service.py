"""Two service classes in one file on one fixed port (the original's start_process_service_http_0).

docs/compatibility.md: ``SO_REUSEPORT`` is opt-in here, so without ``reuse_port`` the second class
cannot bind and the start fails; with it, both classes share the port as in the original."""

import os

import tomodachi

PORT = int(os.environ["COMPAT_PORT"])
HTTP = {"port": PORT, "reuse_port": True} if os.environ.get("COMPAT_REUSE_PORT") else {"port": PORT}


class HttpServiceOne(tomodachi.Service):
    name = "compat_same_port_1"
    options = {"http": HTTP}

    @tomodachi.http("GET", r"/one/?")
    async def one(self) -> str:
        return "one"


class HttpServiceTwo(tomodachi.Service):
    name = "compat_same_port_2"
    options = tomodachi.Options(http=tomodachi.Options.HTTP(**HTTP))

    @tomodachi.http("GET", r"/two/?")
    async def two(self) -> str:
        return "two"

    async def _started_service(self) -> None:
        print('COMPAT {"event": "started"}', flush=True)
        tomodachi.exit()
