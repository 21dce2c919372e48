"""get_logger(), the context logger and sticky binding, across asyncio tasks."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
from typing import Any

import pytest

import tomodachi.logging as tlog


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_default_context_logger_is_tomodachi(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    assert tlog.get_logger().name == "tomodachi"
    assert tlog.get_logger() is tlog.get_logger("tomodachi")
    tlog.get_logger().info("default")
    assert records(stream)[0]["logger"] == "tomodachi"


def test_named_loggers() -> None:
    log = tlog.get_logger("a.b")
    assert isinstance(log, tlog.Logger)
    assert log.name == "a.b"
    assert tlog.getLogger("a.b") is log
    with pytest.raises(TypeError):
        tlog.get_logger(42)  # type: ignore[arg-type]


def test_set_and_reset_context_logger(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    handler_logger = tlog.get_logger("tomodachi.http.handler").new(
        handler="add_to_sheep_count", type="tomodachi.http"
    )
    token = tlog.set_context_logger(handler_logger)
    tlog.get_logger().info("in handler")
    assert tlog.get_logger("tomodachi.http.handler") is handler_logger
    tlog.reset_context_logger(token)
    tlog.get_logger().info("after handler")

    inside, after = records(stream)
    assert (inside["logger"], inside["handler"], inside["type"]) == (
        "tomodachi.http.handler",
        "add_to_sheep_count",
        "tomodachi.http",
    )
    assert after["logger"] == "tomodachi" and "handler" not in after


def test_console_context_logger_line(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    handler_logger = tlog.get_logger("tomodachi.http.handler").new(
        handler="add_to_sheep_count", type="tomodachi.http"
    )
    token = tlog.set_context_logger(handler_logger)
    try:
        tlog.get_logger().info("counting sheep", count=3)
    finally:
        tlog.reset_context_logger(token)
    assert (
        stream.getvalue()
        .rstrip("\n")
        .endswith("[tomodachi.http.handler] handler=add_to_sheep_count type=tomodachi.http count=3")
    )


async def test_context_logger_is_per_task(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    base = tlog.get_logger("tomodachi.http.handler")
    loggers = {name: base.new(handler=name, type="tomodachi.http") for name in ("a", "b", "c")}
    started = asyncio.Event()
    seen: dict[str, str] = {}

    async def invoke(name: str) -> None:
        token = tlog.set_context_logger(loggers[name])
        try:
            await started.wait()  # all three are inside their handler at the same time
            tlog.get_logger().info("handling", n=name)
            seen[name] = tlog.get_logger()._context["handler"]
        finally:
            tlog.reset_context_logger(token)

    tasks = [asyncio.create_task(invoke(name)) for name in loggers]
    await asyncio.sleep(0)
    started.set()
    await asyncio.gather(*tasks)

    assert seen == {"a": "a", "b": "b", "c": "c"}
    assert sorted((r["n"], r["handler"]) for r in records(stream)) == [("a", "a"), ("b", "b"), ("c", "c")]
    assert tlog.get_logger().name == "tomodachi"


def test_binding_is_sticky_per_name(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    tlog.get_logger("x").bind(request_id="r1")
    tlog.get_logger("x").info("one")
    tlog.get_logger("x").bind(user="u").info("two")
    tlog.get_logger("x").unbind("request_id").info("three")
    tlog.get_logger("y").info("other name")
    tlog.get_logger("x").new(fresh=True).info("four")
    tlog.get_logger("x").try_unbind("fresh", "missing").info("five")

    one, two, three, other, four, five = records(stream)
    assert one["request_id"] == "r1"
    assert (two["request_id"], two["user"]) == ("r1", "u")
    assert "request_id" not in three and three["user"] == "u"
    assert "request_id" not in other and "user" not in other
    assert list(four)[4:] == ["fresh"]
    assert list(five)[4:] == []


def test_context_logger_binding_is_sticky(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    token = tlog.set_context_logger(tlog.get_logger("h").new(handler="f"))
    try:
        tlog.get_logger().bind(user="u")
        tlog.get_logger().info("bound in the handler")
    finally:
        tlog.reset_context_logger(token)
    (record,) = records(stream)
    assert (record["logger"], record["handler"], record["user"]) == ("h", "f", "u")


async def test_sticky_bindings_do_not_leak_out_of_tasks(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    tlog.get_logger("x").bind(outer=1)

    async def child() -> None:
        tlog.get_logger("x").bind(inner=2)
        tlog.get_logger("x").info("child")

    await asyncio.create_task(child())
    tlog.get_logger("x").info("parent")
    child_record, parent_record = records(stream)
    assert (child_record["outer"], child_record["inner"]) == (1, 2)
    assert parent_record["outer"] == 1 and "inner" not in parent_record


def test_loggers_are_immutable() -> None:
    base = tlog.get_logger("immutable").bind(a=1)
    base.new(b=2)
    base.bind(c=3)
    base.unbind("a")
    assert base._context == {"a": 1}
    with pytest.raises(KeyError):
        base.unbind("missing")


def test_reset_context_forgets_bindings() -> None:
    tlog.get_logger("x").bind(a=1)
    tlog.set_context_logger(tlog.get_logger("h").new(handler="f"))
    tlog.reset_context()
    assert tlog.get_logger("x")._context == {}
    assert tlog.get_logger().name == "tomodachi"


def test_logger_satisfies_structlog_protocols() -> None:
    structlog = pytest.importorskip("structlog")
    log = tlog.get_logger("x").bind(a=1)
    assert isinstance(log, structlog.typing.BindableLogger)
    assert structlog.get_context(log) == {"a": 1}


def test_logger_protocol_accepts_stdlib_and_tomodachi_loggers() -> None:
    import logging

    def use(logger: tlog.LoggerProtocol) -> None:
        logger.debug("protocol")

    use(tlog.get_logger("x"))
    use(logging.getLogger("x"))


def test_a_context_logger_setter_sets_the_logger_over_the_bindings_of_the_moment() -> None:
    from tomodachi.logging.context import ContextLoggerSetter

    handler_logger = tlog.get_logger("tomodachi.http.handler").new(handler="h")
    setter = ContextLoggerSetter(handler_logger)

    def run_once() -> tuple[Any, Any]:
        token = setter.set()
        try:
            return tlog.get_logger(), tlog.get_logger("setter.sticky")
        finally:
            tlog.reset_context_logger(token)

    first, sticky = contextvars.copy_context().run(run_once)
    assert first is handler_logger and "k" not in sticky._context
    # A binding made in the surrounding context afterwards is seen by the next run (the state the
    # setter made the first time is not reused over a different one).
    tlog.get_logger("setter.sticky").bind(k="v")
    again, sticky = contextvars.copy_context().run(run_once)
    assert again is handler_logger and sticky._context["k"] == "v"
    assert tlog.get_logger() is not handler_logger
