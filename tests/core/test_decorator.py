"""``@tomodachi.decorator`` in its bare, called and include_function forms, sync and async."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi


@tomodachi.decorator
async def bare(self: Any, value: int) -> Any:
    return "blocked" if value < 0 else None


@tomodachi.decorator()
def called_sync(self: Any, value: int) -> Any:
    return True if value != 13 else {"status": 403}


@tomodachi.decorator(include_function=True)
async def with_function(func: Any, self: Any, value: int) -> Any:
    return None if func.__name__ == "handler" else "wrong"


class Subject:
    @bare
    async def one(self, value: int) -> int:
        return value

    @called_sync
    async def two(self, value: int) -> int:
        return value

    @with_function
    async def handler(self, value: int) -> int:
        return value * 10


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [("one", 1, 1), ("one", -1, "blocked"), ("two", 2, 2), ("two", 13, {"status": 403}), ("handler", 2, 20)],
)
async def test_decorator_forms(method: str, value: int, expected: Any) -> None:
    assert await getattr(Subject(), method)(value) == expected


def test_decorated_handler_keeps_its_signature_for_injection() -> None:
    import inspect

    assert list(inspect.signature(Subject().one).parameters) == ["value"]
