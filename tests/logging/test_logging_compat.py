"""The original library's ``tomodachi.logging`` names, used the way its users use them.

Real stdlib handlers, real files, and one service run by ``tomodachi run`` in a subprocess.
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tomodachi
import tomodachi.logging as tlog
from tomodachi.errors import ConfigurationError
from tomodachi.logging import routing

ORIGINAL_NAMES = (
    "getLogger",
    "get_logger",
    "bind_logger",
    "reset_context",
    "configure",
    "set_default_formatter",
    "set_custom_logger_factory",
    "remove_handlers",
    "Logger",
    "LoggerProtocol",
    "ConsoleFormatter",
    "NoColorConsoleFormatter",
    "JSONFormatter",
    "DisabledFormatter",
    "CustomLoggerFormatter",
    "PythonLoggingFormatter",
    "DefaultHandler",
    "DefaultRootLoggerHandler",
    "StderrHandler",
    "DEFAULT_FORMAT",
    "TOMODACHI_LOGGER_TYPE",
    "TOMODACHI_CUSTOM_LOGGER",
    "CRITICAL",
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "NOTSET",
    "WARN",
    "WARNING",
)

FORMATTERS = {
    "ConsoleFormatter": "console",
    "NoColorConsoleFormatter": "no_color_console",
    "JSONFormatter": "json",
    "DisabledFormatter": "disabled",
    "CustomLoggerFormatter": "custom",
}


@pytest.fixture
def attach() -> Iterator[Callable[[str, logging.Handler], logging.Handler]]:
    """Attach a handler to a stdlib logger for the test; removed and closed afterwards."""
    attached: list[tuple[logging.Logger, logging.Handler]] = []

    def add(name: str, handler: logging.Handler) -> logging.Handler:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        attached.append((logger, handler))
        return handler

    yield add
    for logger, handler in attached:
        logger.removeHandler(handler)
        handler.close()


@pytest.fixture
def restore_stdlib_loggers() -> Iterator[None]:
    """Undo ``setLevel``/``propagate`` changes made to stdlib loggers by a test."""
    names = [
        name for name, obj in logging.Logger.manager.loggerDict.items() if isinstance(obj, logging.Logger)
    ]
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in names}
    yield
    for name, obj in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(obj, logging.Logger):
            level, propagate = saved.get(name, (logging.NOTSET, True))
            obj.setLevel(level)
            obj.propagate = propagate


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- the names exist -----------------------------------------------------------------------------


def test_every_original_name_is_exported() -> None:
    for name in ORIGINAL_NAMES:
        assert hasattr(tlog, name), name
        assert name in tlog.__all__, name
    assert tlog.getLogger is tlog.get_logger
    assert tlog.DefaultHandler is tlog.DefaultRootLoggerHandler
    assert isinstance(tlog.DefaultRootLoggerHandler, tlog.StderrHandler)
    assert isinstance(tlog.StderrHandler(), logging.StreamHandler)
    assert tlog.DEFAULT_FORMAT == "%(asctime)s [%(levelname)-9s] %(message)-30s [%(name)s]"
    assert (tlog.TOMODACHI_LOGGER_TYPE, tlog.TOMODACHI_CUSTOM_LOGGER) == ("console", None)
    assert (tlog.NOTSET, tlog.DEBUG, tlog.INFO, tlog.WARNING, tlog.ERROR, tlog.CRITICAL) == (
        0,
        10,
        20,
        30,
        40,
        50,
    )
    assert (tlog.WARN, tlog.FATAL) == (logging.WARN, logging.FATAL)


def test_formatters_are_stdlib_formatter_instances_named_by_repr() -> None:
    for name, logger_type in FORMATTERS.items():
        formatter = getattr(tlog, name)  # Any: also called, and read .logger_type, below
        assert isinstance(getattr(tlog, name), logging.Formatter)
        assert repr(formatter) == name
        assert formatter.logger_type == logger_type
        copy = formatter()
        assert isinstance(copy, tlog.TomodachiFormatter) and copy is not formatter
        assert (repr(copy), copy.logger_type) == (name, logger_type)
    assert isinstance(tlog.PythonLoggingFormatter, logging.Formatter)
    assert repr(tlog.PythonLoggingFormatter) == "PythonLoggingFormatter"
    assert tlog.PythonLoggingFormatter._fmt == tlog.DEFAULT_FORMAT


# --- formatters on the application's own stdlib handlers ------------------------------------------


def test_file_handler_with_json_formatter_gets_tomodachi_and_stdlib_records(
    tmp_path: Path, stream: io.StringIO, attach: Callable[..., logging.Handler]
) -> None:
    tlog.configure("json", "info", stream=stream)
    path = tmp_path / "service.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(tlog.JSONFormatter)
    attach("my.service", handler)

    tomodachi.get_logger("my.service").info("hello", count=4, password="hunter2")
    tlog.get_logger("my.service.db").bind(table="sheep").warning("slow %s", "query")
    logging.getLogger("my.service").info("from stdlib", extra={"peer": "10.0.0.7"})
    tomodachi.get_logger("elsewhere").info("not for the file")
    try:
        raise KeyError("missing")
    except KeyError:
        tomodachi.get_logger("my.service").exception("failed")
    handler.flush()

    written = json_lines(path)
    assert [(line["logger"], line["level"], line["message"]) for line in written] == [
        ("my.service", "info", "hello"),
        ("my.service.db", "warning", "slow query"),
        ("my.service", "info", "from stdlib"),
        ("my.service", "error", "failed"),
    ]
    assert list(written[0]) == ["timestamp", "logger", "level", "message", "count", "password"]
    assert (written[0]["count"], written[0]["password"]) == (4, "***")
    assert written[1]["table"] == "sheep"
    assert written[2]["extra"] == {"peer": "10.0.0.7"}
    assert written[3]["exc_type"] == "KeyError" and written[3]["exception"] == "KeyError('missing')"

    # The file's lines for tomodachi events are the very lines tomodachi wrote to its own stream.
    direct = stream.getvalue().splitlines()
    assert len(direct) == 5
    assert json.loads(direct[0]) == written[0]
    assert json.loads(direct[1]) == written[1]
    assert json.loads(direct[3])["message"] == "not for the file"


def test_handler_on_a_logger_that_does_not_propagate_gets_the_event_alone(
    tmp_path: Path, stream: io.StringIO, attach: Callable[..., logging.Handler], restore_stdlib_loggers: None
) -> None:
    tlog.configure("json", stream=stream)
    path = tmp_path / "audit.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(tlog.JSONFormatter)
    attach("audit", handler)
    tlog.get_logger("audit").propagate = False

    tomodachi.get_logger("audit").info("audited", user="u")
    handler.flush()

    assert [line["message"] for line in json_lines(path)] == ["audited"]
    assert stream.getvalue() == ""


def test_console_formatters_on_a_stream_handler(
    attach: Callable[..., logging.Handler], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    tlog.configure("disabled")  # tomodachi's own output off: only the handler writes
    tlog.configure(level="info")
    plain, colour_default = io.StringIO(), io.StringIO()
    attach("console.x", logging.StreamHandler(plain)).setFormatter(tlog.NoColorConsoleFormatter)
    attach("console.x", logging.StreamHandler(colour_default)).setFormatter(tlog.ConsoleFormatter)

    logging.getLogger("console.x").warning("stdlib line", extra={"k": "v"})

    assert (
        plain.getvalue().split("Z ", 1)[1]
        == f"[warning  ] {'stdlib line':<30} [console.x] extra={{'k': 'v'}}\n"
    )
    assert colour_default.getvalue() == plain.getvalue()  # NO_COLOR: no escape codes either


def test_disabled_formatter_on_a_stderr_handler_writes_nothing(
    capsys: pytest.CaptureFixture[str], attach: Callable[..., logging.Handler]
) -> None:
    handler = tlog.StderrHandler()
    handler.setFormatter(tlog.DisabledFormatter)
    attach("quiet", handler)
    logging.getLogger("quiet").error("dropped")
    assert capsys.readouterr().err == ""


def test_stderr_handler_writes_to_the_current_stderr(
    capsys: pytest.CaptureFixture[str], attach: Callable[..., logging.Handler]
) -> None:
    handler = tlog.StderrHandler()
    handler.setFormatter(tlog.JSONFormatter)
    attach("loud", handler)
    logging.getLogger("loud").error("to stderr")
    assert handler.stream is sys.stderr
    assert json.loads(capsys.readouterr().err)["message"] == "to stderr"


def test_custom_logger_formatter_hands_records_to_the_custom_logger(
    attach: Callable[..., logging.Handler], capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    class Recorder:
        def __init__(self, context: dict[str, Any]) -> None:
            self.context = context

        def warning(self, event: str, **kw: Any) -> None:
            calls.append((event, self.context, kw))

    handler = attach("custom.x", tlog.StderrHandler())
    handler.setFormatter(tlog.CustomLoggerFormatter)
    logging.getLogger("custom.x").warning("no custom logger yet")  # reported like a handler error
    assert "No custom logger set: call tomodachi.logging.set_custom_logger_factory" in capsys.readouterr().err

    tlog.set_custom_logger_factory(Recorder)
    logging.getLogger("custom.x").warning("to the recorder", extra={"k": 1})
    assert calls == [("to the recorder", {"logger": "custom.x"}, {"extra": {"k": 1}})]
    assert capsys.readouterr().err == ""


def test_python_logging_formatter_is_a_plain_stdlib_formatter() -> None:
    record = logging.LogRecord("lib", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    line = tlog.PythonLoggingFormatter.format(record)
    assert line.endswith(f"[INFO     ] {'hello world':<30} [lib]")
    assert tlog.PythonLoggingFormatter("%(name)s: %(message)s").format(record) == "lib: hello world"


def test_formatters_work_from_dict_config(tmp_path: Path) -> None:
    path = tmp_path / "dict.log"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": "tomodachi.logging.JSONFormatter"}},
            "handlers": {
                "file": {"class": "logging.FileHandler", "filename": str(path), "formatter": "json"}
            },
            "loggers": {"dictconf": {"handlers": ["file"], "level": "INFO"}},
        }
    )
    logger = logging.getLogger("dictconf")
    try:
        tomodachi.get_logger("dictconf").info("configured by dict", a=1)
        for handler in logger.handlers:
            handler.flush()
        assert [(line["message"], line["a"]) for line in json_lines(path)] == [("configured by dict", 1)]
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(logging.NOTSET)


# --- Logger's stdlib-logger methods ---------------------------------------------------------------


def test_logger_has_the_stdlib_logger_methods(
    tmp_path: Path, stream: io.StringIO, restore_stdlib_loggers: None
) -> None:
    tlog.configure("json", "info", stream=stream)
    logger = tlog.getLogger("methods.svc")
    handler = logging.FileHandler(tmp_path / "m.log")
    handler.setFormatter(tlog.JSONFormatter)
    try:
        logger.addHandler(handler)
        assert logger.handlers == [handler] == logging.getLogger("methods.svc").handlers
        assert logger.hasHandlers() and logger.propagate is True and logger.disabled is False
        assert logger.parent is logging.getLogger("methods.svc").parent
        assert logger.getChild("sub") is logging.getLogger("methods.svc.sub")
        assert logger.getEffectiveLevel() == logging.INFO and logger.level == logging.NOTSET

        logger.setLevel("warning")
        assert logger.level == logging.WARNING == logger.getEffectiveLevel()
        assert not logger.isEnabledFor(logging.INFO) and logger.isEnabledFor(logging.ERROR)
        logger.info("dropped by the stdlib level")
        logger.warning("kept")
        tlog.get_logger("methods.svc.sub").info("dropped: inherited level")
        handler.flush()
        assert [line["message"] for line in json_lines(tmp_path / "m.log")] == ["kept"]
        assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["kept"]
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert logger.handlers == []


def test_stdlib_level_silences_a_tomodachi_logger(stream: io.StringIO, restore_stdlib_loggers: None) -> None:
    tlog.configure("console", "info", stream=stream, color=False)
    logging.getLogger("tomodachi.http.response").setLevel(logging.WARNING)
    tomodachi.get_logger("tomodachi.http.response").info("", status_code=200)
    tomodachi.get_logger("tomodachi.http.response").warning("kept", status_code=500)
    assert [line.split("] ", 1)[1][:4] for line in stream.getvalue().splitlines()] == ["kept"]


def test_forwarded_records_carry_fields_and_the_callers_location(
    caplog: pytest.LogCaptureFixture, stream: io.StringIO
) -> None:
    tlog.configure("json", stream=stream)
    with caplog.at_level(logging.INFO):
        tomodachi.get_logger("caller.svc").bind(a=1).info("seen by caplog", b=2, hidden=...)
    (record,) = [r for r in caplog.records if r.name == "caller.svc"]
    assert record.getMessage() == "seen by caplog"
    assert record.__dict__["logger.context"] == {"a": 1, "b": 2}
    assert (record.filename, record.funcName) == ("test_logging_compat.py", sys._getframe().f_code.co_name)
    assert json.loads(stream.getvalue())["message"] == "seen by caplog"  # written once, directly


def test_no_record_is_built_when_no_foreign_handler_listens(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # pytest's own capture handlers off
    tlog.configure("json", stream=stream)
    made: list[str] = []
    factory = logging.getLogRecordFactory()

    def counting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record.name)
        return record

    logging.setLogRecordFactory(counting_factory)
    try:
        tomodachi.get_logger("plain.svc").info("first")  # creates the stdlib logger
        assert routing.is_plain("plain.svc")
        tomodachi.get_logger("plain.svc").info("second")
    finally:
        logging.setLogRecordFactory(factory)
    assert made == []
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["first", "second"]


# --- set_default_formatter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logger_type", "formatter_name"),
    [
        ("json", "JSONFormatter"),
        ("console", "ConsoleFormatter"),
        ("no_color_console", "NoColorConsoleFormatter"),
        ("python", "PythonLoggingFormatter"),
        ("disabled", "DisabledFormatter"),
    ],
)
def test_set_default_formatter_by_type(logger_type: str, formatter_name: str) -> None:
    formatter = getattr(tlog, formatter_name)
    for call in ({"logger_type": logger_type}, {"formatter": formatter}):
        tlog.set_default_formatter(**call)
        assert tlog.TOMODACHI_LOGGER_TYPE == logger_type
        assert tlog.DefaultHandler.formatter is formatter
        assert repr(tlog.DefaultHandler.formatter) == formatter_name
    tlog.set_default_formatter(logger_type)
    tlog.set_default_formatter(formatter)
    assert tlog.TOMODACHI_LOGGER_TYPE == logger_type


def test_set_default_formatter_changes_the_output_and_keeps_level(capsys: pytest.CaptureFixture[str]) -> None:
    tlog.configure("console", "warning")
    tlog.set_default_formatter("json")
    log = tomodachi.get_logger("fmt.svc")
    log.info("below the level")
    log.warning("as json", k=1)
    logging.getLogger("fmt.lib").warning("stdlib as json")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("fmt.svc", "as json"),
        ("fmt.lib", "stdlib as json"),
    ]
    assert logging.getLogger().level == logging.WARNING


def test_set_default_formatter_with_any_stdlib_formatter_selects_python(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tlog.configure("console", "info")
    tlog.set_default_formatter(formatter=logging.Formatter(logging.BASIC_FORMAT))
    assert tlog.TOMODACHI_LOGGER_TYPE == "python"
    tomodachi.get_logger("basic.svc").info("from tomodachi", value="not shown")
    logging.getLogger("basic.svc").info("from stdlib")
    assert capsys.readouterr().err.splitlines() == [
        "INFO:basic.svc:from tomodachi",
        "INFO:basic.svc:from stdlib",
    ]


def test_set_default_formatter_without_arguments_keeps_the_type() -> None:
    tlog.set_default_formatter("json")
    tlog.set_default_formatter()
    assert tlog.TOMODACHI_LOGGER_TYPE == "json"


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("json",), {"logger_type": "json"}, TypeError, "Invalid combination of arguments"),
        (("json",), {"formatter": tlog.JSONFormatter}, TypeError, "Invalid combination of arguments"),
        ((), {"logger_type": "json", "formatter": tlog.JSONFormatter}, TypeError, "Invalid combination"),
        ((42,), {}, TypeError, "Invalid logger type or formatter given"),
        ((), {"formatter": "json"}, TypeError, "expected an instance of logging.Formatter"),
        (("yaml",), {}, Exception, "Invalid logger type: 'yaml'"),
        ((), {"logger_type": "custom"}, Exception, "needs a custom logger"),
    ],
)
def test_set_default_formatter_validation(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        tlog.set_default_formatter(*args, **kwargs)
    assert tlog.TOMODACHI_LOGGER_TYPE == "console"
    assert tlog.DefaultHandler.formatter is tlog.ConsoleFormatter


# --- set_custom_logger_factory --------------------------------------------------------------------


class Collected:
    """A custom logger class, as ``--custom-logger`` users write them."""

    lines: list[tuple[str, str, dict[str, Any]]] = []

    def __init__(self, context: dict[str, Any]) -> None:
        self.name = context["logger"]

    def info(self, event: str, **kw: Any) -> None:
        Collected.lines.append((self.name, event, kw))


def test_set_custom_logger_factory_then_custom_type(capsys: pytest.CaptureFixture[str]) -> None:
    Collected.lines = []
    tlog.set_custom_logger_factory(Collected)
    assert tlog.TOMODACHI_CUSTOM_LOGGER is Collected
    assert tlog.TOMODACHI_LOGGER_TYPE == "console"  # the type is not changed by the factory

    tlog.set_default_formatter("custom")
    assert tlog.DefaultHandler.formatter is tlog.CustomLoggerFormatter
    tomodachi.get_logger("custom.svc").info("to the custom logger", value="test")
    assert Collected.lines == [("custom.svc", "to the custom logger", {"value": "test"})]
    assert capsys.readouterr().err == ""

    tlog.set_custom_logger_factory(None)  # cleared while active: back to console
    # (mypy keeps the narrowing of an earlier assert, not knowing the call above changed them)
    assert (tlog.TOMODACHI_LOGGER_TYPE, tlog.TOMODACHI_CUSTOM_LOGGER) == ("console", None)  # type: ignore[comparison-overlap]


def test_set_custom_logger_factory_by_path_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_log_factory.py").write_text(
        textwrap.dedent(
            """
            class Factory:
                def __init__(self, context):
                    self.context = context

                def info(self, event, **kw):
                    pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    tlog.set_custom_logger_factory("my_log_factory.Factory")
    assert tlog.TOMODACHI_CUSTOM_LOGGER == "my_log_factory.Factory"
    tlog.set_default_formatter("custom")
    assert tlog.TOMODACHI_LOGGER_TYPE == "custom"

    with pytest.raises(ConfigurationError, match=r"Unable to import custom logger 'no_such_mod_xyz\.F'"):
        tlog.set_custom_logger_factory("no_such_mod_xyz.F")
    with pytest.raises(ConfigurationError, match="Invalid custom logger 42"):
        tlog.set_custom_logger_factory(42)
    assert tlog.TOMODACHI_CUSTOM_LOGGER == "my_log_factory.Factory"  # unchanged after errors

    tlog.set_custom_logger_factory(tlog)  # tomodachi.logging itself: not a custom logger
    assert (tlog.TOMODACHI_LOGGER_TYPE, tlog.TOMODACHI_CUSTOM_LOGGER) == ("console", None)


# --- configure(log_level, force): the original signature ------------------------------------------


def test_configure_with_the_original_signature_keeps_the_logger_type(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tlog.set_default_formatter("json")
    tlog.configure(log_level="debug")
    assert logging.getLogger().level == logging.DEBUG
    assert tlog.DefaultRootLoggerHandler in logging.getLogger().handlers
    tomodachi.get_logger("orig.svc").debug("debug as json")
    assert json.loads(capsys.readouterr().err)["level"] == "debug"

    tlog.configure(logging.WARNING)
    assert logging.getLogger().level == logging.WARNING and tlog.TOMODACHI_LOGGER_TYPE == "json"
    tlog.configure("ERROR")
    assert logging.getLogger().level == logging.ERROR
    tlog.configure()
    assert logging.getLogger().level == logging.INFO and tlog.TOMODACHI_LOGGER_TYPE == "json"
    tlog.configure(level="debug")  # keyword level, no type: the type is kept as well
    assert logging.getLogger().level == logging.DEBUG and tlog.TOMODACHI_LOGGER_TYPE == "json"
    tlog.configure("console", "info")  # the current signature still works
    assert tlog.TOMODACHI_LOGGER_TYPE == "console"


def test_configure_force_replaces_other_root_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    other = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [other])
    tlog.configure(logging.INFO)
    assert root.handlers == [other, tlog.DefaultRootLoggerHandler]
    tlog.configure("info", True)
    assert root.handlers == [tlog.DefaultRootLoggerHandler]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("loud",), {}, ConfigurationError, "Invalid logger type: 'loud'"),
        ((), {"log_level": "loud"}, ConfigurationError, "Invalid log level: 'loud'"),
        ((10,), {"log_level": 20}, TypeError, "log level twice"),
        ((), {"level": "debug", "log_level": "info"}, TypeError, "not both"),
        ((10, "debug"), {}, ConfigurationError, "Invalid logger type: 10"),
    ],
)
def test_configure_call_style_errors(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        tlog.configure(*args, **kwargs)


# --- remove_handlers, bind_logger, reset_context -------------------------------------------------


def test_remove_handlers_clears_tomodachi_loggers_like_the_original(tmp_path: Path) -> None:
    tlog.set_default_formatter("json")
    tlog.configure(log_level="info")
    ours = logging.FileHandler(tmp_path / "ours.log")
    theirs = logging.FileHandler(tmp_path / "theirs.log")
    logging.getLogger("tomodachi.compat.test").addHandler(ours)
    logging.getLogger("not_tomodachi.compat").addHandler(theirs)
    try:
        tlog.remove_handlers()
        assert logging.getLogger("tomodachi.compat.test").handlers == []
        assert ours.stream is None  # closed
        assert logging.getLogger("not_tomodachi.compat").handlers == [theirs]
        assert tlog.DefaultRootLoggerHandler not in logging.getLogger().handlers
        assert tlog.TOMODACHI_LOGGER_TYPE == "console"
    finally:
        logging.getLogger("not_tomodachi.compat").removeHandler(theirs)
        theirs.close()


def test_bind_logger_sets_the_context_logger(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    tlog.bind_logger(tlog.get_logger("bound.one").bind(a=1))
    assert tlog.get_logger().name == "bound.one"
    tlog.bind_logger({"logger": "bound.two", "b": 2})
    tlog.get_logger().info("from dict")
    tlog.bind_logger("bound.one")
    tlog.get_logger().info("by name, sticky binding kept")
    with pytest.raises(TypeError, match="Unsupported logger type"):
        tlog.bind_logger(42)
    tlog.reset_context()
    assert tlog.get_logger().name == "tomodachi"
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["logger"], first["b"]) == ("bound.two", 2)
    assert (second["logger"], second["a"]) == ("bound.one", 1)


# --- the deprecated Service.log() with a JSONFormatter file handler, through `tomodachi run` ------


def test_service_log_with_a_json_file_handler(
    spawn: Callable[..., Any], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write(
        "logging_service.py",
        """
        import logging
        import os
        from logging.handlers import WatchedFileHandler

        import tomodachi


        @tomodachi.service
        class LoggingService(tomodachi.Service):
            name = "test_logging"
            log_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "service.log")

            def log_setup(self, filename):
                wfh = WatchedFileHandler(filename=filename)
                wfh.setLevel(logging.DEBUG)
                wfh.setFormatter(tomodachi.logging.JSONFormatter)
                tomodachi.logging.getLogger().addHandler(wfh)

            async def _start_service(self):
                self.log_setup(filename=self.log_path)
                self.log("_start_service", level=logging.INFO)

            async def _started_service(self):
                self.log("_started_service", level=logging.INFO)
                self.log(logging.WARNING, "a warning")
                tomodachi.get_logger("tomodachi.lifecycle.handler").info("from get_logger", k=1)
                tomodachi.exit()

            async def _stop_service(self):
                self.log("_stop_service", level=logging.INFO)
        """,
    )
    process = spawn("run", "logging_service.py", "--logger", "json")
    assert process.wait() == 0, process.stderr

    written = json_lines(tmp_path / "service.log")
    assert [(line["level"], line["message"]) for line in written] == [
        ("info", "_start_service"),
        ("info", "_started_service"),
        ("warning", "a warning"),
        ("info", "from get_logger"),
        ("info", "_stop_service"),
    ]
    assert {line["logger"] for line in written} == {"tomodachi.lifecycle.handler"}
    assert written[0]["handler"] == "_start_service" and written[3]["k"] == 1
    # Each file line is the line tomodachi wrote to stderr, byte for byte.
    stderr_lines = {line for line in process.stderr_lines if line.startswith("{")}
    assert {json.dumps(line, separators=(",", ":")) for line in written} <= stderr_lines
