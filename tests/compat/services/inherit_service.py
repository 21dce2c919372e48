"""A service that subclasses a service class from another module: the base is not started, the
subclass serves the inherited routes too."""

import json

import aiohttp
from shared_base import BaseHttpService

import tomodachi


class Child(BaseHttpService):
    name = "compat_child"

    @tomodachi.http("GET", r"/child/?")
    async def child_route(self) -> str:
        return "child"

    @tomodachi.http("GET", r"/overridden/?")
    async def overridden(self) -> str:
        return "from the child"

    async def _started_service(self) -> None:
        responses = {}
        async with aiohttp.ClientSession() as client:
            for path in ("/base", "/child", "/overridden"):
                url = "http://127.0.0.1:{}{}".format(self.context["_http_port"], path)
                async with client.get(url) as response:
                    responses[path] = [response.status, await response.text()]
        values = {"event": "inherited", "responses": responses, "services": sorted(tomodachi.get_services())}
        print("COMPAT " + json.dumps(values), flush=True)
        tomodachi.exit()
