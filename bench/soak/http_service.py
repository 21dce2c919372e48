"""The HTTP side of the soak: a hello route, keep-alive and the access log on."""

import os

import tomodachi


class HelloService(tomodachi.Service):
    name = "hello"
    options = tomodachi.Options(
        http={"host": "127.0.0.1", "port": int(os.environ["SOAK_PORT"]), "access_log": True}
    )

    @tomodachi.http("GET", r"/hello")
    async def hello(self, request):
        return "Hello, World!"
