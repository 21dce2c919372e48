"""Keyword injection and middleware chains behave as the reference describes (§2, §8)."""

from __future__ import annotations

from typing import Any

from tomodachi.injection import compile_handler, compile_middleware_chain, taken_names, takes_first_only


class Handlers:
    async def first_positional(self, req: Any, id: str) -> tuple[Any, str]:
        return req, id

    async def named(self, id: str, request: Any = None) -> tuple[Any, str]:
        return request, id

    async def defaults(self, message: Any, topic: str = "default", other: Any = "kept") -> tuple[Any, ...]:
        return message, topic, other

    async def missing(self, message: Any, absent: Any) -> Any:
        return absent

    async def varkw(self, request: Any, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def sync(self, value: int) -> int:
        return value + 1


h = Handlers()


async def test_first_positional_receives_the_request_whatever_its_name() -> None:
    call = compile_handler(h.first_positional, first="request")
    assert await call({"request": "R", "id": "7"}) == ("R", "7")


async def test_a_first_parameter_named_like_a_group_is_injected_by_name() -> None:
    call = compile_handler(h.named, first="request", first_unless_named=("id",))
    assert await call({"request": "R", "id": "7"}) == ("R", "7")


async def test_defaults_are_kept_and_missing_become_none_for_messages() -> None:
    call = compile_handler(h.defaults, first="message", missing_as_none=True)
    assert await call({"message": "M"}) == ("M", "default", "kept")
    assert await call({"message": "M", "topic": "t"}) == ("M", "t", "kept")
    assert await compile_handler(h.missing, first="message", missing_as_none=True)({"message": 1}) is None


async def test_varkw_handler_receives_every_value_but_the_positional_one() -> None:
    call = compile_handler(h.varkw, first="request")
    assert await call({"request": "R", "a": 1, "b": 2}) == {"a": 1, "b": 2}


async def test_sync_handlers_are_supported() -> None:
    assert await compile_handler(h.sync)({"value": 1}) == 2


async def test_middleware_chain_order_kwargs_and_transport_values_win() -> None:
    calls: list[str] = []

    async def outer(func: Any, service: Any, request: Any, context: dict[str, Any]) -> Any:
        calls.append("outer")
        context["seen"] = True
        result = await func(added=1, request="spoofed")
        calls.append("outer-after")
        return result

    class Inner:
        async def __call__(self, func: Any, *, added: int, request: Any) -> Any:
            calls.append(f"inner:{added}:{request}")
            return await func(more=added + 1)

    async def last(func: Any, service: Any, **kwargs: Any) -> Any:
        calls.append("last:" + ",".join(sorted(kwargs)))
        return await func()

    async def handler(request: Any, added: int, more: int) -> str:
        return f"{request}:{added}:{more}"

    invoke = compile_middleware_chain([outer, Inner(), last], compile_handler(handler, first="request"), 2)
    assert await invoke(("svc", "REQ"), {"request": "REQ"}) == "REQ:1:2"
    assert calls == ["outer", "inner:1:REQ", "last:added,more,request", "outer-after"]


async def test_middleware_may_short_circuit() -> None:
    async def deny(func: Any, service: Any, request: Any) -> str:
        return "denied"

    async def handler(request: Any) -> str:
        raise AssertionError("handler must not run")

    invoke = compile_middleware_chain([deny], compile_handler(handler, first="request"), 2)
    assert await invoke(("svc", "REQ"), {"request": "REQ"}) == "denied"


async def test_middleware_positional_arguments_are_truncated_to_its_required_ones() -> None:
    seen: list[tuple[Any, ...]] = []

    async def two(func: Any, service: Any, request: Any = None, other: Any = "default") -> Any:
        # Only (func, service) are passed positionally; request comes by name, other keeps its default.
        seen.append((service, request, other))
        return await func()

    async def varargs(*args: Any) -> Any:
        seen.append(args[1:])
        return await args[0]()

    async def handler() -> str:
        return "ok"

    invoke = compile_middleware_chain([two, varargs], compile_handler(handler), 2)
    assert await invoke(("svc", "REQ"), {"request": "REQ"}) == "ok"
    assert seen[0] == ("svc", "REQ", "default")
    assert seen[1][:2] == ("svc", "REQ") and isinstance(seen[1][2], dict)


def test_taken_names_lists_what_a_handler_can_be_given_and_none_for_kwargs() -> None:
    # A transport leaves out the values a handler does not take; **kwargs may read any of them.
    assert taken_names(h.defaults) == frozenset({"message", "topic", "other"})
    assert taken_names(h.first_positional, first="request") == frozenset({"request", "id"})
    # the first parameter gets the request whatever its name: "id" is not read from the values
    assert taken_names(h.named, first="request") == frozenset({"request"})
    assert taken_names(h.varkw, first="request") is None


def test_takes_first_only_tells_when_the_handler_is_called_with_the_first_value_alone() -> None:
    class Shapes:
        async def request_only(self, request: Any) -> None: ...
        async def with_group(self, request: Any, id: str) -> None: ...
        async def nothing(self) -> None: ...
        async def with_kwargs(self, request: Any, **kwargs: Any) -> None: ...
        async def group_first(self, id: str) -> None: ...
        def sync(self, request: Any) -> None: ...

    s = Shapes()
    assert takes_first_only(s.request_only)
    assert not takes_first_only(s.with_group)
    assert not takes_first_only(s.nothing)
    assert not takes_first_only(s.with_kwargs)
    assert not takes_first_only(s.group_first, first_unless_named=("id",))
    assert not takes_first_only(s.sync)
