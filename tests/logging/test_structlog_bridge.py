"""configure_structlog(): structlog.get_logger() loggers render through tomodachi's output."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tomodachi.logging as tlog
from tomodachi.logging.structlog_bridge import configure_structlog, is_structlog_bridged

structlog = pytest.importorskip("structlog")

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line(stream: io.StringIO) -> None:
    tlog.configure("json", "info", stream=stream)
    assert configure_structlog() is True
    assert is_structlog_bridged()
    structlog.get_logger("x").info("hello", k=1)
    (record,) = lines(stream)
    assert list(record) == ["timestamp", "logger", "level", "message", "k"]
    assert (record["logger"], record["level"], record["message"], record["k"]) == ("x", "info", "hello", 1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["timestamp"])


def test_console_line_matches_tomodachi_logger(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    configure_structlog()
    structlog.get_logger("x").bind(user="alice").warning("hello %s", "world", note="two words")
    tlog.get_logger("x").bind(user="alice").warning("hello %s", "world", note="two words")
    first, second = stream.getvalue().splitlines()
    pattern = r"\S+Z \[warning  \] hello world {20}\[x\] user=alice note='two words'"
    assert re.fullmatch(pattern, first), first
    assert first.split(" ", 1)[1] == second.split(" ", 1)[1]


def test_level_filtering(stream: io.StringIO) -> None:
    tlog.configure("json", "warning", stream=stream)
    configure_structlog()
    log = structlog.get_logger("x")
    log.debug("no")
    log.info("no")
    log.log(logging.INFO, "no")
    log.warning("yes")
    log.log(logging.ERROR, "yes too")
    assert [(r["level"], r["message"]) for r in lines(stream)] == [("warning", "yes"), ("error", "yes too")]
    assert not log.is_enabled_for(logging.INFO)
    assert log.is_enabled_for(logging.WARNING)
    assert log.get_effective_level() == logging.WARNING


def test_reconfiguring_tomodachi_applies_to_structlog_loggers(stream: io.StringIO) -> None:
    tlog.configure("json", "warning", stream=stream)
    configure_structlog()
    log = structlog.get_logger("x")
    log.info("dropped")
    other = io.StringIO()
    tlog.configure("console", "debug", stream=other, color=False)
    log.debug("now console")
    assert stream.getvalue() == ""
    assert "[debug    ] now console" in other.getvalue() and "[x]" in other.getvalue()

    tlog.configure("disabled")
    log.critical("nothing")
    assert "nothing" not in other.getvalue()


def test_secrets_processors_and_contextvars(stream: io.StringIO) -> None:
    def add_seen(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict["seen"] = f"{logger.name}/{method_name}"
        return event_dict

    tlog.configure("json", stream=stream, processors=[add_seen])
    configure_structlog()
    structlog.contextvars.bind_contextvars(request_id="r-1")
    structlog.get_logger("x").bind(api_token="t0ps3cret").info("hi", password="hunter2", n=2)
    (record,) = lines(stream)
    assert record["api_token"] == "***" and record["password"] == "***"
    assert record["request_id"] == "r-1"
    assert record["n"] == 2 and record["seen"] == "x/info"


def test_drop_event_from_a_tomodachi_processor(stream: io.StringIO) -> None:
    def drop(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if event_dict.get("noise"):
            raise structlog.DropEvent
        return event_dict

    tlog.configure("json", stream=stream, processors=[drop])
    configure_structlog()
    structlog.get_logger("x").info("dropped", noise=True)
    structlog.get_logger("x").info("kept")
    assert [r["message"] for r in lines(stream)] == ["kept"]


def test_exception(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    configure_structlog()
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        structlog.get_logger("x").exception("failed", order_id=7)
    (record,) = lines(stream)
    assert (record["level"], record["message"], record["order_id"]) == ("error", "failed", 7)
    assert record["exc_type"] == "ZeroDivisionError"


def test_unnamed_logger_uses_the_context_logger(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    configure_structlog()
    structlog.get_logger().info("outside")
    token = tlog.set_context_logger(tlog.get_logger("my.handler").new(handler="h", type="t"))
    try:
        structlog.get_logger().info("inside", type="mine")
    finally:
        tlog.reset_context_logger(token)
    outside, inside = lines(stream)
    assert outside["logger"] == "tomodachi"
    assert inside["logger"] == "my.handler"
    assert (inside["handler"], inside["type"]) == ("h", "mine")


def test_python_output(stream: io.StringIO, collector: Any) -> None:
    tlog.configure("python", stream=stream)
    configure_structlog()
    structlog.get_logger("py.x").info("via stdlib", k=1)
    assert re.fullmatch(r".* \[INFO     \] via stdlib +\[py\.x\]\n", stream.getvalue())
    (record,) = collector.records
    assert record.name == "py.x" and record.__dict__["logger.context"] == {"k": 1}


def test_custom_output() -> None:
    calls: list[tuple[str, str, str, dict[str, Any]]] = []

    class Collector:
        def __init__(self, context: dict[str, Any]) -> None:
            self.name = context["logger"]

        def info(self, event: str, **kw: Any) -> None:
            calls.append((self.name, "info", event, kw))

    tlog.configure("custom", custom_logger=Collector)
    configure_structlog()
    structlog.get_logger("c").info("to custom", k=1)
    assert calls == [("c", "info", "to custom", {"k": 1})]


def test_structlog_as_the_custom_logger_does_not_recurse(capsys: pytest.CaptureFixture[str]) -> None:
    tlog.configure("custom", custom_logger="structlog")
    configure_structlog()
    tlog.get_logger("loop").info("once", k=1)
    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert len(err.splitlines()) == 1
    # The custom output calls structlog.get_logger() without a name: the context logger's name.
    assert "once" in err and "[tomodachi]" in err and "k=1" in err


def test_override_false_keeps_an_application_configuration(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    own = structlog.ReturnLoggerFactory()
    structlog.configure(logger_factory=own)
    assert configure_structlog(override=False) is False
    assert structlog.get_config()["logger_factory"] is own
    assert configure_structlog() is True
    assert configure_structlog(override=False) is True  # ours: reconfiguring it is fine
    structlog.get_logger("x").info("bridged")
    assert lines(stream)[0]["message"] == "bridged"


def test_importing_the_bridge_does_not_import_structlog() -> None:
    code = (
        "import sys, tomodachi.logging as t\n"
        "assert callable(t.configure_structlog)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'structlog'))"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


SERVICE = """
    import structlog
    import tomodachi

    module_log = structlog.get_logger("structlog-service")


    class Service(tomodachi.Service):
        name = "structlog-service"

        async def _started_service(self):
            module_log.info("hello from structlog", k=1, password="hunter2")
            structlog.get_logger().warning("unnamed")
            structlog.get_logger(self.name).debug("below the level")
            tomodachi.exit(0)
"""


def test_tomodachi_run_bridges_structlog(tmp_path: Path) -> None:
    service = tmp_path / "service.py"
    service.write_text(textwrap.dedent(SERVICE).lstrip(), encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TOMODACHI_") and key not in ("NO_COLOR", "NOCOLOR", "PYTHONPATH")
    }
    env["PYTHONPATH"] = SRC
    result = subprocess.run(
        [sys.executable, "-m", "tomodachi", "run", "--production", "--logger", "json", str(service)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    mine = [r for r in records if r["message"] in ("hello from structlog", "unnamed", "below the level")]
    assert len(mine) == 2, result.stderr
    hello, unnamed = mine
    assert hello["logger"] == "structlog-service"
    assert (hello["level"], hello["k"], hello["password"]) == ("info", 1, "***")
    assert unnamed["logger"] == "tomodachi.lifecycle.handler"
    assert (unnamed["level"], unnamed["handler"]) == ("warning", "_started_service")
