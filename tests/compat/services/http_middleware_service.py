"""HTTP middlewares in the signature styles of the original's README, examples and tests; one
service class per style (each on its own free port), so one style failing hides no other."""

import json
from typing import Any, Callable, Dict

from aiohttp import web

import tomodachi
from tomodachi import Options, http, http_error


def report(event: str, **values: Any) -> None:
    print("COMPAT " + json.dumps({"event": event, **values}, default=repr), flush=True)


# the README: func, service, request, context, then *args / **kwargs passed on to func
async def readme_middleware(
    func: Callable, service: Any, request: web.Request, context: Dict, *args: Any, **kwargs: Any
) -> Any:
    context["before"] = True
    return_value = await func(*args, **kwargs)
    return return_value


# the older examples (examples/basic_examples/http_middleware_service.py): no context parameter,
# so *args holds the context dict, and it is passed on to func
async def old_example_middleware(
    func: Callable, service: Any, request: web.Request, *args: Any, **kwargs: Any
) -> Any:
    return await func(*args, **kwargs)


# the original's http_service test: short-circuit before, replace the result after
async def before_after_middleware(func: Callable, service: Any, request: web.Request) -> Any:
    if request.path == "/middleware-before":
        return "before"
    return_value = await func()
    if request.path == "/middleware-after":
        return "after"
    return return_value


# the original example's comment: ``await func(*args, id='overridden', **kwargs)``
async def override_group_middleware(func: Callable, service: Any, request: web.Request, context: Dict) -> Any:
    return await func(id="overridden")


class CallableMiddleware:
    async def __call__(self, func: Callable, service: Any, request: web.Request) -> Any:
        return await func(from_object=True)


def sync_middleware(func: Callable, service: Any) -> Any:
    return func(from_sync=True)


async def keyword_only_middleware(func: Callable, *, request: web.Request) -> Any:
    return await func(from_keyword_only=request.path)


async def status_code_middleware(
    func: Callable, service: Any, request: web.Request, *, status_code: int = 0
) -> Any:
    return_value = await func()
    return "{} (middleware saw {})".format(return_value, status_code)


class Base(tomodachi.Service):
    options = Options(http=Options.HTTP(port=0))

    async def _started_service(self) -> None:
        report("port", service=self.name, port=self.context["_http_port"])


class Readme(Base):
    name = "readme"
    http_middleware = [readme_middleware]

    @http("GET", r"/example/(?P<id>[^/]+?)/?")
    async def example_with_id(self, request: web.Request, id: str) -> str:
        return "id: {}".format(id)

    @http("GET", r"/kwargs/?")
    async def with_kwargs(self, request: web.Request, **kwargs: Any) -> str:
        return "kwargs: {}".format(sorted(kwargs))

    @http_error(status_code=404)
    async def error_404(self, request: web.Request, **kwargs: Any) -> str:
        return "error 404"


class OldExample(Base):
    name = "old_example"
    http_middleware = [old_example_middleware]

    @http("GET", r"/example/?")
    async def example(self, request: web.Request, **kwargs: Any) -> str:
        return "old example"


class BeforeAfter(Base):
    name = "before_after"
    http_middleware = [before_after_middleware]

    @http("GET", r"/middleware-before/?")
    async def before(self, request: web.Request) -> str:
        return "handler"

    @http("GET", r"/middleware-after/?")
    async def after(self, request: web.Request) -> str:
        return "handler"

    @http("GET", r"/middleware-through/?")
    async def through(self, request: web.Request) -> str:
        return "handler"


class OverrideGroup(Base):
    name = "override_group"
    http_middleware = [override_group_middleware]

    @http("GET", r"/item/(?P<id>[^/]+?)/?")
    async def item(self, request: web.Request, id: str) -> str:
        return "id: {}".format(id)


class Objects(Base):
    name = "objects"

    def __init__(self) -> None:
        self.http_middleware = [
            self.bound_middleware,
            CallableMiddleware(),
            sync_middleware,
            keyword_only_middleware,
        ]

    async def bound_middleware(
        self, func: Callable, service: Any, request: web.Request, context: Dict
    ) -> Any:
        return await func(from_bound=self is service)

    @http("GET", r"/objects/?")
    async def objects(
        self,
        request: web.Request,
        from_bound: bool = False,
        from_object: bool = False,
        from_sync: bool = False,
        from_keyword_only: str = "",
    ) -> str:
        return json.dumps([from_bound, from_object, from_sync, from_keyword_only])


class ErrorHandlerMiddleware(Base):
    name = "error_handler_middleware"
    http_middleware = [status_code_middleware]

    @http_error(status_code=404)
    async def error_404(self, request: web.Request, status_code: int) -> str:
        return "error {}".format(status_code)
