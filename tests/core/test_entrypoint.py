"""Decorators only declare; discovery follows definition order; methods stay callable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

import tomodachi
from tomodachi.entrypoint import Entrypoint, declare, discover_entrypoints, entrypoints_of

F = TypeVar("F", bound=Callable[..., Any])


class Dummy(tomodachi.Transport):
    pass


def mark(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    return Dummy.decorator(*args, **kwargs)


class Base(tomodachi.Service):
    @mark("first")
    async def first(self) -> str:
        return "first"

    @mark("second")
    async def second(self) -> str:
        return "base"


class Child(Base):
    @mark("zeta")
    async def zeta(self) -> str:
        return "zeta"

    @mark("second-override")
    async def second(self) -> str:
        return "child"

    @mark("stacked-outer")
    @mark("stacked-inner", flag=True)
    async def alpha(self, value: int = 1) -> int:
        return value * 2


def test_discovery_is_in_definition_order_with_overrides_in_place() -> None:
    found = [(name, ep.args) for name, ep in discover_entrypoints(Child)]
    assert found == [
        ("first", ("first",)),
        ("second", ("second-override",)),
        ("zeta", ("zeta",)),
        ("alpha", ("stacked-inner",)),
        ("alpha", ("stacked-outer",)),
    ]


def test_stacked_declarations_keep_their_kwargs() -> None:
    entrypoints = [ep for name, ep in discover_entrypoints(Child) if name == "alpha"]
    assert entrypoints[0].kwargs == {"flag": True}
    assert entrypoints[1].kwargs == {}
    assert all(isinstance(ep, Entrypoint) and ep.transport is Dummy for ep in entrypoints)


async def test_decorated_method_is_directly_callable() -> None:
    service = Child()
    assert await service.alpha(21) == 42
    assert await service.second() == "child"


def test_declare_refuses_static_methods() -> None:
    with pytest.raises(TypeError, match="plain methods"):
        declare(Dummy)(staticmethod(lambda: None))


def test_a_function_shared_by_two_classes_is_not_mutated_by_later_declarations() -> None:
    async def handler(self: Any) -> None:
        return None

    first = mark("a")(handler)
    assert [ep.args for ep in entrypoints_of(first)] == [("a",)]
    mark("b")(handler)
    assert [ep.args for ep in entrypoints_of(handler)] == [("a",), ("b",)]
