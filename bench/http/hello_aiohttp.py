"""The plain aiohttp baseline: "Hello, World!" and a small JSON document."""

import json
import logging
import os
import sys

from aiohttp import web

PAYLOAD = {"message": "Hello, World!", "count": 3, "tags": ["a", "b"], "ok": True}


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, World!")


async def json_dict(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(PAYLOAD), content_type="application/json")


def main() -> None:
    port = int(sys.argv[1])
    access_log = os.environ.get("BENCH_ACCESS_LOG") == "1"
    keepalive = float(os.environ.get("BENCH_KEEPALIVE", "75"))
    if access_log:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    if os.environ.get("BENCH_LOOP") == "uvloop":
        import uvloop

        uvloop.install()
    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/json", json_dict)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        keepalive_timeout=keepalive,
        print=None,
    )


if __name__ == "__main__":
    main()
