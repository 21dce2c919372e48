"""The uvicorn + Starlette peer: the same two endpoints (run by bench/http/run.py in its own venv)."""

import json
import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

PAYLOAD = {"message": "Hello, World!", "count": 3, "tags": ["a", "b"], "ok": True}


async def hello(request):
    return PlainTextResponse("Hello, World!")


async def json_dict(request):
    return Response(json.dumps(PAYLOAD), media_type="application/json")


app = Starlette(routes=[Route("/hello", hello), Route("/json", json_dict)])

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=os.environ.get("BENCH_ACCESS_LOG") == "1",
        loop="uvloop" if os.environ.get("BENCH_LOOP") == "uvloop" else "asyncio",
        http="httptools",
        log_level="info",
        timeout_keep_alive=int(os.environ.get("BENCH_KEEPALIVE", "75")),
    )
