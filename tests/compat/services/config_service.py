"""Attributes and options that a ``-c`` config file overrides (deprecated, still supported)."""

import json

import tomodachi


class ConfigService(tomodachi.Service):
    name = "compat_config"
    options = tomodachi.Options(http=tomodachi.Options.HTTP(port=0, server_header="from-class"))
    greeting = "from-class"
    settings = {"a": 1}
    tags = ["class"]

    @tomodachi.http("GET", r"/")
    async def index(self) -> str:
        return "ok"

    async def _started_service(self) -> None:
        values = {
            "greeting": self.greeting,
            "settings": self.settings,
            "tags": self.tags,
            "server_header": self.options.http.server_header,
            "port": self.options.http.port,
            "keepalive_timeout": self.options.http.keepalive_timeout,
        }
        print("COMPAT " + json.dumps({"event": "config", **values}), flush=True)
        tomodachi.exit()
