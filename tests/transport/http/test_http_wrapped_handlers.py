"""HTTP handlers behind the user's own ``functools.wraps`` decorators (inspected as given)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tomodachi
from tomodachi.testing import run_services


def require_header(func: Callable[..., Any]) -> Callable[..., Any]:
    """A typical pass-through auth decorator: ``(*args, **kwargs)`` on to the handler."""

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = args[1]  # (self, request, ...) as the handler expects
        if request.headers.get("X-Key") != "yes":
            return 403, "forbidden"
        return await func(*args, **kwargs)

    return wrapper


def fixed_adapter(func: Callable[..., Any]) -> Callable[..., Any]:
    """An adapter with its own fixed signature: injected by its own parameters."""

    @functools.wraps(func)
    async def adapter(self: Any, request: Any, item_id: str) -> Any:
        return await func(self, item={"id": item_id, "path": request.path})

    return adapter


class Items(tomodachi.Service):
    name = "items"

    @tomodachi.http("GET", r"/items/(?P<item_id>[^/]+)")
    @require_header
    async def get_item(self, req: Any, item_id: str) -> str:  # the request under another name
        return f"{req.method} {item_id}"

    @tomodachi.http("GET", r"/adapted/(?P<item_id>[^/]+)")
    @fixed_adapter
    async def adapted(self, item: dict[str, str]) -> str:
        return f"{item['id']} {item['path']}"


async def test_pass_through_decorator_gets_the_request_positionally_and_groups_by_name() -> None:
    async with run_services(Items) as app:
        async with app.client() as client:
            async with client.get("/items/42", headers={"X-Key": "yes"}) as response:
                assert (response.status, await response.text()) == (200, "GET 42")
            async with client.get("/items/42") as response:
                assert response.status == 403


async def test_fixed_signature_adapter_is_injected_by_its_own_parameters() -> None:
    async with run_services(Items) as app:
        async with app.client() as client, client.get("/adapted/7") as response:
            assert (response.status, await response.text()) == (200, "7 /adapted/7")
