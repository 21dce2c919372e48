"""The JSON format: key order, renames, exceptions, odd values."""

from __future__ import annotations

import datetime
import decimal
import io
import json
import logging
import re
from typing import Any

import tomodachi.logging as tlog
from tomodachi.logging.renderers import JSONRenderer, _stdlib_dumps


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_key_order_and_access_log(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    tlog.get_logger("tomodachi.http.response").info(
        "",
        status_code=201,
        remote_ip="127.0.0.1",
        request_method="POST",
        request_path="/test_ignore_one",
        http_version="HTTP/1.1",
        response_content_length=8,
        request_content_length=10,
        request_content_read_length=10,
        user_agent="Python/3.11 aiohttp/3.14.5",
        handler_elapsed_time="0.00135s",
        request_time="0.00143s",
    )
    (record,) = lines(stream)
    assert list(record) == [
        "timestamp",
        "logger",
        "level",
        "message",
        "status_code",
        "remote_ip",
        "request_method",
        "request_path",
        "http_version",
        "response_content_length",
        "request_content_length",
        "request_content_read_length",
        "user_agent",
        "handler_elapsed_time",
        "request_time",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["timestamp"])
    assert record["logger"] == "tomodachi.http.response"
    assert record["level"] == "info"
    assert record["message"] == ""
    assert record["status_code"] == 201
    assert record["response_content_length"] == 8


def test_bound_context_comes_before_call_keywords(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    tlog.get_logger("x").bind(b=1, a=2).warning("msg", c=3, a=4)
    (record,) = lines(stream)
    assert list(record)[4:] == ["b", "a", "c"]
    assert record["a"] == 4
    assert record["level"] == "warning"


def test_renames(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    tlog.get_logger("x").info("renamed", event_="the event", class_="Foo")
    (record,) = lines(stream)
    assert record["message"] == "renamed"
    assert record["event"] == "the event"
    assert record["class"] == "Foo"
    assert "event_" not in record and "class_" not in record


def test_exception_fields(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)

    def failing_function() -> None:
        raise ValueError("bad value")

    try:
        failing_function()
    except ValueError:
        tlog.get_logger("exception").exception("uncaught exception: bad value")

    (record,) = lines(stream)
    assert record["level"] == "error"
    assert record["exception"] == "ValueError('bad value')"
    assert record["exc_type"] == "ValueError"
    assert record["exc_message"] == "bad value"
    stack = record["stacktrace"]
    assert [frame["function_name"] for frame in stack] == ["test_exception_fields", "failing_function"]
    assert stack[-1]["module_name"] == __name__
    assert re.fullmatch(r".*test_logging_json\.py:\d+", stack[-1]["location"])


def test_stacktrace_is_limited_to_50_frames(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)

    def recurse(depth: int) -> None:
        if depth == 0:
            raise RuntimeError("deep")
        recurse(depth - 1)

    try:
        recurse(80)
    except RuntimeError as exc:
        tlog.get_logger("x").error("deep failure", exc_info=exc)
    (record,) = lines(stream)
    assert len(record["stacktrace"]) == 50
    assert record["stacktrace"][-1]["function_name"] == "recurse"


def test_custom_exception_type_name(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    error = json.JSONDecodeError("nope", "doc", 0)
    tlog.get_logger("x").error("decode", exc_info=error)
    (record,) = lines(stream)
    assert record["exc_type"] == "json.decoder.JSONDecodeError"


def test_values_json_cannot_express_are_strings(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)

    class Thing:
        def __str__(self) -> str:
            return "a thing"

    tlog.get_logger("x").info(
        "odd values",
        thing=Thing(),
        amount=decimal.Decimal("1.5"),
        when=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        numbers={1: "one"},
        items=(1, 2),
    )
    (record,) = lines(stream)
    assert record["thing"] == "a thing"
    assert record["amount"] == "1.5"
    assert record["when"].startswith("2026-01-02")
    assert record["numbers"] == {"1": "one"}
    assert record["items"] == [1, 2]


def test_stdlib_encoder_fallback() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    text = _stdlib_dumps({"timestamp": "t", "message": "é", "odd": Unprintable(), "n": 1})
    assert json.loads(text) == {
        "timestamp": "t",
        "message": "é",
        "odd": "<unprintable Unprintable object>",
        "n": 1,
    }
    assert json.loads(_stdlib_dumps({"key": {(1, 2): "tuple key"}})) == {"key": "{(1, 2): 'tuple key'}"}


def test_stdlib_record_as_json(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    logging.getLogger("aiohttp.access").info("%s %s", "GET", "/", extra={"remote": "1.2.3.4"})
    (record,) = lines(stream)
    assert list(record) == ["timestamp", "logger", "level", "message", "extra"]
    assert record["logger"] == "aiohttp.access"
    assert record["message"] == "GET /"
    assert record["extra"] == {"remote": "1.2.3.4"}


def test_renderer_is_a_structlog_processor() -> None:
    structlog = __import__("structlog")
    logger = structlog.wrap_logger(structlog.ReturnLogger(), processors=[JSONRenderer()])
    text = logger.bind(logger="svc").info("hello", key="value")
    record = json.loads(text)
    assert list(record) == ["timestamp", "logger", "level", "message", "key"]
    assert (record["logger"], record["level"], record["message"]) == ("svc", "info", "hello")
