"""Options changed in ``__init__``: attribute writes on ``self.options`` and a dict assigned to it."""

import json
from typing import Any

import tomodachi


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


class AttributeWrites(tomodachi.Service):
    name = "attribute_writes"

    def __init__(self) -> None:
        self.options.http.port = 0
        self.options.http.server_header = "from-init"

    @tomodachi.http("GET", r"/")
    async def index(self) -> str:
        return "ok"

    async def _started_service(self) -> None:
        report(
            self.name,
            port=self.context["_http_port"],
            option_port=self.options.http.port,
            server_header=self.options.http.server_header,
        )


class DictAssigned(tomodachi.Service):
    name = "dict_assigned"

    def __init__(self) -> None:
        self.options = {"http": {"port": 0, "server_header": "dict-in-init"}}

    @tomodachi.http("GET", r"/")
    async def index(self) -> str:
        return "ok"

    async def _started_service(self) -> None:
        report(
            self.name,
            port=self.context["_http_port"],
            options_type=type(self.options).__name__,
            server_header=self.options.http.server_header,
        )
        tomodachi.exit()
