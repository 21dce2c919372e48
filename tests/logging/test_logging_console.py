"""The console format, as written to a real stream."""

from __future__ import annotations

import io
import logging
import os
import re

import pytest

import tomodachi.logging as tlog

LINE = re.compile(
    r"^(?P<timestamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) "
    r"\[(?P<level>[a-z ]{9})\] "
    r"(?P<message>.{30,}?) "
    r"\[(?P<logger>[^\]]+)\]"
    r"(?: (?P<kv>.*))?$"
)


def parse(line: str) -> dict[str, str]:
    match = LINE.match(line)
    assert match, f"not a console line: {line!r}"
    return match.groupdict()


def test_console_line_shape(stream: io.StringIO) -> None:
    tlog.configure("console", "info", stream=stream, color=False)
    tlog.get_logger("tomodachi.service").info("initializing service instance", service="a", uuid="123")

    line = stream.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    parts = parse(line.rstrip("\n"))
    assert parts["level"] == "info     "
    assert parts["message"] == "initializing service instance "  # padded to 30
    assert parts["logger"] == "tomodachi.service"
    assert parts["kv"] == "service=a uuid=123"
    assert line.rstrip("\n").split("Z ", 1)[1] == (
        "[info     ] initializing service instance  [tomodachi.service] service=a uuid=123"
    )


def test_console_access_log_line(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    tlog.get_logger("tomodachi.http.response").info(
        "",
        status_code=201,
        remote_ip="127.0.0.1",
        request_method="POST",
        request_path="/test",
        http_version="HTTP/1.1",
        response_content_length=8,
        user_agent="Mozilla/5.0 (X11; Linux)",
        handler_elapsed_time="0.00135s",
        request_time="0.00143s",
    )
    parts = parse(stream.getvalue().rstrip("\n"))
    assert parts["message"] == " " * 30
    assert parts["logger"] == "tomodachi.http.response"
    assert parts["kv"] == (
        "status_code=201 remote_ip=127.0.0.1 request_method=POST request_path=/test http_version=HTTP/1.1 "
        "response_content_length=8 user_agent='Mozilla/5.0 (X11; Linux)' handler_elapsed_time=0.00135s "
        "request_time=0.00143s"
    )


def test_console_values(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    tlog.get_logger("x").warning(
        "values", empty="", spaced="a b", newline="a\nb", none=None, number=1.5, items=[1, "a"], flag=True
    )
    parts = parse(stream.getvalue().rstrip("\n"))
    assert parts["level"] == "warning  "
    assert (
        parts["kv"] == "empty='' spaced='a b' newline='a\\nb' none=None number=1.5 items=[1, 'a'] flag=True"
    )


def test_long_message_is_not_cut(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    message = "a message that is much longer than thirty characters"
    tlog.get_logger("x").info(message)
    assert f"] {message} [x]\n" in stream.getvalue()


def test_levels_are_padded(stream: io.StringIO) -> None:
    tlog.configure("console", "debug", stream=stream, color=False)
    log = tlog.get_logger("x")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.warn("w2")
    log.error("e")
    log.critical("c")
    levels = [parse(line)["level"] for line in stream.getvalue().splitlines()]
    assert levels == ["debug    ", "info     ", "warning  ", "warning  ", "error    ", "critical "]


def test_positional_arguments_are_interpolated(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    tlog.get_logger("x").info("hello %s, %d sheep", "world", 3, key="v")
    tlog.get_logger("x").info("hello %(name)s", {"name": "dict"})
    lines = stream.getvalue().splitlines()
    assert parse(lines[0])["message"].rstrip() == "hello world, 3 sheep"
    assert parse(lines[1])["message"].rstrip() == "hello dict"


def test_ellipsis_hides_a_key(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    log = tlog.get_logger("x").bind(hidden=..., shown=1)
    log.info("event", other=...)
    assert parse(stream.getvalue().rstrip("\n"))["kv"] == "shown=1"


def test_exception_appends_traceback(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    log = tlog.get_logger("exception")
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("uncaught exception: bad value", handler="h")

    first, *rest = stream.getvalue().rstrip("\n").split("\n")
    parts = parse(first)
    assert parts["level"] == "error    "
    assert parts["kv"] == "handler=h"
    assert rest[0] == "Traceback (most recent call last):"
    assert 'raise ValueError("bad value")' in "\n".join(rest)
    assert rest[-1] == "ValueError: bad value"


def test_exc_info_argument(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    error = KeyError("k")
    try:
        raise error
    except KeyError:
        pass
    tlog.get_logger("x").warning("with exception object", exc_info=error)
    assert stream.getvalue().rstrip("\n").endswith("KeyError: 'k'")


def test_stdlib_record_looks_like_tomodachi_event(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    logging.getLogger("x").info("same %s", "line")
    tlog.get_logger("x").info("same line")
    first, second = stream.getvalue().splitlines()
    assert first.split("Z ", 1)[1] == second.split("Z ", 1)[1] == f"[info     ] {'same line':<30} [x]"


def test_stdlib_extra_goes_under_extra_key(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    logging.getLogger("aiohttp.server").warning("with extra", extra={"peer": "1.2.3.4", "count": 2})
    assert parse(stream.getvalue().rstrip("\n"))["kv"] == "extra={'peer': '1.2.3.4', 'count': 2}"


def test_stdlib_exception(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("asyncio").exception("task failed")
    lines = stream.getvalue().rstrip("\n").split("\n")
    assert parse(lines[0])["level"] == "error    "
    assert lines[-1] == "ZeroDivisionError: division by zero"


def test_default_stream_is_stderr_at_write_time(capsys: pytest.CaptureFixture[str]) -> None:
    tlog.configure("console")
    tlog.get_logger("x").info("to stderr")
    logging.getLogger("y").info("stdlib to stderr")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert [parse(line)["logger"] for line in lines] == ["x", "y"]
    assert "\x1b[" not in captured.err  # captured stderr is not a terminal


def test_unconfigured_logger_writes_console_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    tlog.get_logger("x").info("before configure", a=1)
    assert parse(capsys.readouterr().err.rstrip("\n"))["kv"] == "a=1"


def test_colors_forced(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=True)
    tlog.get_logger("x").info("coloured", key="value")
    output = stream.getvalue()
    assert "\x1b[32minfo     \x1b[0m" in output
    assert "\x1b[36mkey\x1b[0m=\x1b[35mvalue\x1b[0m" in output
    assert re.sub(r"\x1b\[[0-9;]*m", "", output).split("Z ", 1)[1] == (
        f"[info     ] {'coloured':<30} [x] key=value\n"
    )


def _tty_output(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    master, replica = os.openpty()
    with os.fdopen(replica, "w") as tty:
        tlog.configure("console", stream=tty)
        tlog.get_logger("x").info("tty")
        data = os.read(master, 4096).decode()
    os.close(master)
    return data


def test_colors_on_for_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\x1b[" in _tty_output(monkeypatch, {})


@pytest.mark.parametrize(
    ("env", "colored"),
    [
        ({"NO_COLOR": "1"}, False),
        ({"TOMODACHI_NO_COLOR": "true"}, False),
        ({"NOCOLOR": "yes"}, False),
        ({"NO_COLOR": "0"}, True),
        ({"NO_COLOR": "false"}, True),
        ({"NO_COLOR": ""}, True),
    ],
)
def test_no_color_variables(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], colored: bool) -> None:
    assert ("\x1b[" in _tty_output(monkeypatch, env)) is colored


def test_no_color_console_alias(stream: io.StringIO) -> None:
    tlog.configure("no_color_console", stream=stream)
    tlog.get_logger("x").info("plain")
    assert "\x1b[" not in stream.getvalue()
