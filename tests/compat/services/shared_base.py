"""Not a service file: a base class with a route, subclassed by inherit_service.py."""

import tomodachi


class BaseHttpService(tomodachi.Service):
    name = "base"
    options = {"http": {"port": 0}}

    @tomodachi.http("GET", r"/base/?")
    async def base_route(self) -> str:
        return "base route of {}".format(self.name)

    @tomodachi.http("GET", r"/overridden/?")
    async def overridden(self) -> str:
        return "from the base"
