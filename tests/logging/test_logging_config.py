"""configure(): logger types, levels, the root handler, custom loggers, errors."""

from __future__ import annotations

import io
import logging
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tomodachi.logging as tlog
from tomodachi.errors import ConfigurationError
from tomodachi.logging.handler import HANDLER_MARKER


def our_handlers() -> list[logging.Handler]:
    return [handler for handler in logging.getLogger().handlers if getattr(handler, HANDLER_MARKER, False)]


# --- errors ---------------------------------------------------------------------------------------


def test_invalid_logger_type() -> None:
    with pytest.raises(ConfigurationError) as info:
        tlog.configure("yaml")
    assert str(info.value) == (
        "Invalid logger type: 'yaml' (expected 'console', 'json', 'python', 'disabled' or 'custom')"
    )
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("level", ["foo", "", True, -1, None, 2.5])
def test_invalid_level(level: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        tlog.configure("console", level)
    assert str(info.value) == (
        f"Invalid log level: {level!r} (expected 'debug', 'info', 'warning', 'error' or 'critical')"
    )


@pytest.mark.parametrize(
    ("level", "number"),
    [
        ("debug", 10),
        ("INFO", 20),
        ("Warning", 30),
        ("warn", 30),
        ("error", 40),
        ("critical", 50),
        (15, 15),
        ("5", 5),
    ],
)
def test_valid_levels(level: str | int, number: int, stream: io.StringIO) -> None:
    tlog.configure("console", level, stream=stream)
    assert logging.getLogger().level == number
    assert tlog.is_enabled_for(number)
    assert not tlog.is_enabled_for(number - 1)


def test_failed_configure_keeps_previous_configuration(stream: io.StringIO) -> None:
    tlog.configure("json", "debug", stream=stream)
    with pytest.raises(ConfigurationError):
        tlog.configure("console", "loud")
    tlog.get_logger("x").debug("still json")
    assert stream.getvalue().startswith('{"timestamp"')


def test_custom_logger_needs_custom_type() -> None:
    with pytest.raises(ConfigurationError, match="needs logger_type 'custom'"):
        tlog.configure("json", custom_logger="logging")
    with pytest.raises(ConfigurationError, match="needs a custom logger"):
        tlog.configure("custom")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_xyz", "No module named 'no_such_module_xyz'"),
        ("no_such_pkg_xyz.attr", "No module named 'no_such_pkg_xyz'"),
        ("json.no_such_attribute", "module 'json' has no attribute 'no_such_attribute'"),
    ],
)
def test_custom_logger_import_errors(path: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        tlog.configure("custom", custom_logger=path)
    assert str(info.value) == f"Unable to import custom logger {path!r}: {message}"


def test_custom_logger_path_syntax() -> None:
    with pytest.raises(ConfigurationError) as info:
        tlog.configure("custom", custom_logger="not a path")
    assert str(info.value) == "Invalid custom logger path: 'not a path' (expected 'package.module.attribute')"


def test_custom_logger_module_that_fails_to_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_logger_mod.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigurationError) as info:
        tlog.configure("custom", custom_logger="broken_logger_mod.Factory")
    assert str(info.value) == (
        "Unable to import custom logger 'broken_logger_mod.Factory': No module named 'no_such_dependency_xyz'"
    )


def test_unusable_custom_logger_object() -> None:
    with pytest.raises(ConfigurationError, match="Invalid custom logger"):
        tlog.configure("custom", custom_logger=42)


# --- root handler ---------------------------------------------------------------------------------


def test_one_root_handler_and_user_handlers_kept(stream: io.StringIO, collector: logging.Handler) -> None:
    tlog.configure("console", stream=stream)
    tlog.configure("json", stream=stream)
    tlog.configure("console", "debug", stream=stream)
    assert len(our_handlers()) == 1
    assert collector in logging.getLogger().handlers

    tlog.remove_handlers()
    assert our_handlers() == []
    assert collector in logging.getLogger().handlers


def test_remove_handlers_restores_root_level(stream: io.StringIO) -> None:
    root = logging.getLogger()
    before = root.level
    tlog.configure("console", "debug", stream=stream)
    tlog.configure("console", "error", stream=stream)
    assert root.level == logging.ERROR
    tlog.remove_handlers()
    assert root.level == before


def test_reconfigure_applies_to_existing_loggers(stream: io.StringIO) -> None:
    log = tlog.get_logger("x").bind(a=1)
    tlog.configure("console", stream=stream, color=False)
    log.info("console line")
    tlog.configure("json", stream=stream)
    log.info("json line")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("[x] a=1")
    assert second.startswith("{") and '"a":1' in second


# --- levels ---------------------------------------------------------------------------------------


def test_level_filtering(stream: io.StringIO) -> None:
    tlog.configure("console", "warning", stream=stream)
    log = tlog.get_logger("x")
    log.debug("no")
    log.info("no")
    log.warning("yes 1")
    log.error("yes 2")
    try:
        raise ValueError("v")
    except ValueError:
        log.exception("yes 3")
    log.critical("yes 4")
    log.log("info", "no")
    log.log(logging.ERROR, "yes 5")
    logging.getLogger("lib").info("no")
    logging.getLogger("lib").warning("yes 6")
    output = stream.getvalue()
    assert "no" not in re.sub(r"Traceback.*?ValueError: v", "", output, flags=re.S)
    assert [int(n) for n in re.findall(r"yes (\d)", output)] == [1, 2, 3, 4, 5, 6]
    assert not tlog.is_enabled_for("info")
    assert tlog.is_enabled_for("warning")
    assert log.is_enabled_for(logging.ERROR)


def test_debug_level_shows_everything(stream: io.StringIO) -> None:
    tlog.configure("console", "debug", stream=stream)
    tlog.get_logger("x").debug("tomodachi debug")
    logging.getLogger("lib").debug("stdlib debug")
    assert len(stream.getvalue().splitlines()) == 2


# --- disabled and python --------------------------------------------------------------------------


def test_disabled_drops_everything(capsys: pytest.CaptureFixture[str], stream: io.StringIO) -> None:
    tlog.configure("disabled", stream=stream)
    tlog.get_logger("x").critical("dropped")
    tlog.get_logger().error("dropped")
    logging.getLogger("lib").critical("dropped")
    assert stream.getvalue() == ""
    assert capsys.readouterr().err == ""
    assert not tlog.is_enabled_for("critical")


def test_python_format(stream: io.StringIO, collector: Any) -> None:
    tlog.configure("python", "info", stream=stream)
    tlog.get_logger("tomodachi.service").info("initializing service instance", service="a")
    logging.getLogger("lib").warning("stdlib %s", "record")

    first, second = stream.getvalue().splitlines()
    timestamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    assert re.fullmatch(
        timestamp + re.escape("[INFO     ] initializing service instance  [tomodachi.service]"), first
    )
    assert re.fullmatch(timestamp + re.escape(f"[WARNING  ] {'stdlib record':<30} [lib]"), second)
    # The tomodachi event went through stdlib logging, carrying its fields for other handlers.
    forwarded = collector.records[0]
    assert forwarded.name == "tomodachi.service"
    assert forwarded.__dict__["logger.context"] == {"service": "a"}


def test_python_format_exception(stream: io.StringIO) -> None:
    tlog.configure("python", stream=stream)
    try:
        raise KeyError("missing")
    except KeyError:
        tlog.get_logger("x").exception("failed")
    output = stream.getvalue()
    assert "[ERROR    ] failed" in output
    assert output.rstrip("\n").endswith("KeyError: 'missing'")


# --- custom ---------------------------------------------------------------------------------------


class RecordingLogger:
    """A custom logger class: made as ``RecordingLogger(context)``."""

    calls: list[tuple[str, dict[str, Any], Any, dict[str, Any]]] = []

    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context

    def _record(self, method: str, event: Any, kw: dict[str, Any]) -> None:
        RecordingLogger.calls.append((method, self.context, event, kw))

    def debug(self, event: Any, **kw: Any) -> None:
        self._record("debug", event, kw)

    def info(self, event: Any, **kw: Any) -> None:
        self._record("info", event, kw)

    def warning(self, event: Any, **kw: Any) -> None:
        self._record("warning", event, kw)

    def error(self, event: Any, **kw: Any) -> None:
        self._record("error", event, kw)

    def exception(self, event: Any, **kw: Any) -> None:
        self._record("exception", event, kw)

    def critical(self, event: Any, **kw: Any) -> None:
        self._record("critical", event, kw)


@pytest.fixture
def recording() -> list[tuple[str, dict[str, Any], Any, dict[str, Any]]]:
    RecordingLogger.calls = []
    return RecordingLogger.calls


def test_custom_logger_class(recording: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    tlog.configure("custom", "info", custom_logger=RecordingLogger)
    log = tlog.get_logger("svc").bind(request_id="r1")
    log.info("hello", count=2, hidden=...)
    log.warn("careful")
    log.debug("filtered")
    logging.getLogger("lib").error("stdlib %s", "record", extra={"peer": "p"})

    assert recording == [
        ("info", {"logger": "svc"}, "hello", {"request_id": "r1", "count": 2}),
        ("warning", {"logger": "svc"}, "careful", {"request_id": "r1"}),
        ("error", {"logger": "lib"}, "stdlib record", {"extra": {"peer": "p"}}),
    ]
    assert capsys.readouterr().err == ""


def test_custom_logger_masks_secrets(recording: list[Any]) -> None:
    tlog.configure("custom", custom_logger=RecordingLogger)
    tlog.get_logger("svc").info("login", password="hunter2")
    assert recording[0][3] == {"password": "***"}


def test_custom_logger_object_with_bind(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []

    class Bound:
        def __init__(self, context: dict[str, Any]) -> None:
            self.context = context

        def info(self, event: str, **kw: Any) -> None:
            calls.append(("info", self.context, event, kw))

    class Factory:
        def bind(self, **context: Any) -> Bound:
            return Bound(context)

    tlog.configure("custom", custom_logger=Factory())
    tlog.get_logger("svc").info("bound", a=1)
    tlog.get_logger("svc").error("no error method, falls back", b=2)
    assert calls == [
        ("info", {"logger": "svc"}, "bound", {"a": 1}),
        ("info", {"logger": "svc"}, "no error method, falls back", {"b": 2}),
    ]


def test_custom_logger_is_logging_module(collector: Any, capsys: pytest.CaptureFixture[str]) -> None:
    tlog.configure("custom", custom_logger=logging)
    tlog.get_logger("svc").info("via stdlib", a=1)
    logging.getLogger("lib").info("plain stdlib")
    assert [(r.name, r.getMessage()) for r in collector.records] == [
        ("svc", "via stdlib"),
        ("lib", "plain stdlib"),
    ]
    assert collector.records[0].__dict__["logger.context"] == {"a": 1}
    assert capsys.readouterr().err == ""


def test_custom_logger_that_logs_through_stdlib_does_not_loop(recording: list[Any]) -> None:
    class Echo:
        def __init__(self, context: dict[str, Any]) -> None:
            pass

        def info(self, event: str, **kw: Any) -> None:
            RecordingLogger.calls.append(("info", {}, event, kw))
            logging.getLogger("echo").info("echo: %s", event)

    tlog.configure("custom", custom_logger=Echo)
    tlog.get_logger("svc").info("once")
    logging.getLogger("lib").info("twice?")
    assert [call[2] for call in recording] == ["once", "twice?"]


def test_custom_logger_dotted_paths_are_case_sensitive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: io.StringIO
) -> None:
    (tmp_path / "MixedCaseLoggers.py").write_text(
        textwrap.dedent(
            """
            OUTPUT = []

            class Factory:
                def __init__(self, context):
                    self.context = context

                def info(self, event, **kw):
                    OUTPUT.append((self.context["logger"], event, kw))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        tlog.configure("custom", custom_logger="MixedCaseLoggers.Factory")
        tlog.get_logger("svc").info("from a path", a=1)
        assert sys.modules["MixedCaseLoggers"].OUTPUT == [("svc", "from a path", {"a": 1})]

        # The module itself has no logging methods: rejected with a one-line message.
        with pytest.raises(ConfigurationError, match=r"^Invalid custom logger 'MixedCaseLoggers': expected"):
            tlog.configure("custom", custom_logger="MixedCaseLoggers")
    finally:
        sys.modules.pop("MixedCaseLoggers", None)


def test_custom_logger_module_path(stream: io.StringIO, collector: Any) -> None:
    tlog.configure("custom", custom_logger="logging")
    tlog.get_logger("svc").warning("module path")
    assert [r.getMessage() for r in collector.records] == ["module path"]
