"""The tomodachi side: the same endpoints as a tomodachi service."""

import json
import os

import tomodachi

PAYLOAD = {"message": "Hello, World!", "count": 3, "tags": ["a", "b"], "ok": True}


class HelloService(tomodachi.Service):
    name = "hello"
    options = tomodachi.Options(
        http={
            "host": "127.0.0.1",
            "port": int(os.environ["BENCH_PORT"]),
            "access_log": os.environ.get("BENCH_ACCESS_LOG") == "1",
            "keepalive_timeout": int(os.environ.get("BENCH_KEEPALIVE", "75")),
        }
    )

    @tomodachi.http("GET", r"/hello")
    async def hello(self, request):
        return "Hello, World!"

    @tomodachi.http("GET", r"/json")
    async def json_dict(self, request):
        return 200, json.dumps(PAYLOAD), {"Content-Type": "application/json"}
