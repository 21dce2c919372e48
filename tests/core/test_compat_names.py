"""Public names kept from the original tomodachi, used the way its users use them.

``tomodachi.validation``, ``get_contextvar``/``context``, the execution context helpers,
``TOMODACHI_CLASSES``/``CLASS_ATTRIBUTE``/``TomodachiServiceMeta``, ``tomodachi.invoker``,
``RequestHandler.get_request_ip`` and the submodule attributes. The combined case runs a service
file importing them with ``tomodachi run``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tomodachi
from tomodachi.importer import service_classes

SRC = str(Path(__file__).resolve().parents[2] / "src")
HEAVY = {"aiohttp", "botocore", "aiobotocore", "aio_pika", "aiormq", "structlog", "tomodachi.transport.http"}


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


# -- tomodachi.validation ------------------------------------------------------------------------

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def test_validate_field_regex_as_the_original_tests_use_it() -> None:
    from tomodachi.validation.validation import RegexMissmatchException, validate_field_regex

    validate_field_regex("af047ca5-e8f4-48a9-ab01-1d948f635f95", UUID_PATTERN)  # does not raise
    with pytest.raises(RegexMissmatchException) as info:
        validate_field_regex("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", UUID_PATTERN)
    assert info.value.value == "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    assert info.value.pattern == UUID_PATTERN
    assert str(info.value) == (
        f"value 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3' does not match the pattern {UUID_PATTERN!r}"
    )


def test_validate_field_regex_matches_from_the_start_like_re_match() -> None:
    from tomodachi.validation import RegexMissmatchException, validate_field_regex

    validate_field_regex("abc123", r"[a-z]+")  # a prefix match is a match (re.match)
    with pytest.raises(RegexMissmatchException):
        validate_field_regex("abc123", r"[a-z]+$")  # anchor the end to require the whole value
    with pytest.raises(RegexMissmatchException):
        validate_field_regex("123abc", r"[a-z]+")  # never a match in the middle
    validate_field_regex("abc", re.compile(r"^abc$"))
    validate_field_regex(b"abc", rb"^abc$")


@pytest.mark.parametrize("value", [None, 12, ["abc"], b"abc"])
def test_a_value_that_is_not_a_string_of_the_pattern_type_does_not_match(value: Any) -> None:
    from tomodachi.validation import RegexMissmatchException, validate_field_regex

    with pytest.raises(RegexMissmatchException):
        validate_field_regex(value, r"^.*$")


@pytest.mark.parametrize(
    ("value", "bounds"),
    [
        ("19840801", (6, 8)),
        ("840801", (6, 8)),
        ("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", ()),
        ("", ()),
        (["a", "b", "c", "d", "e"], (2, 5)),
        (["a", "b"], (2, 5)),
        ([], ()),
        (["a", "b", "c", "d", "e", "f"], ()),
        ({"a": 1}, (1, 1)),
        ("abc", (None, None)),
        ("abc", (-5, -5)),
    ],
)
def test_validate_field_length_accepts(value: Any, bounds: tuple[Any, ...]) -> None:
    from tomodachi.validation.validation import validate_field_length

    validate_field_length(value, *bounds)  # does not raise


@pytest.mark.parametrize(
    ("value", "bounds", "error"),
    [
        ("1984-08-01", (6, 8), "TooLargeException"),
        ("8481", (6, 8), "TooSmallException"),
        ("", (1,), "TooSmallException"),
        (["a", "b", "c", "d", "e", "f"], (2, 5), "TooLargeException"),
        (["a"], (2, 5), "TooSmallException"),
        ([], (1,), "TooSmallException"),
        ("abcd", (-1, 3), "TooLargeException"),
    ],
)
def test_validate_field_length_rejects(value: Any, bounds: tuple[Any, ...], error: str) -> None:
    from tomodachi.validation import validation

    with pytest.raises(getattr(validation, error)) as info:
        validation.validate_field_length(value, *bounds)
    assert info.value.value == value and info.value.length == len(value)


def test_validation_names_are_the_same_objects_everywhere() -> None:
    import tomodachi.validation as package
    from tomodachi.validation import validation

    for name in ("validate_field_regex", "validate_field_length", "TooSmallException", "TooLargeException"):
        assert getattr(package, name) is getattr(validation, name)
    assert package.RegexMissmatchException is validation.RegexMismatchException
    assert tomodachi.validation is package
    for exc in (
        validation.RegexMissmatchException,
        validation.TooSmallException,
        validation.TooLargeException,
    ):
        assert issubclass(exc, validation.FieldValidationError)
        assert issubclass(exc, tomodachi.TomodachiError) and issubclass(exc, ValueError)
    with pytest.raises(TypeError):
        validation.validate_field_length(12, 1)  # no length: a programming error
    # Raisable by user code as the original's were, also without arguments.
    assert isinstance(validation.TooLargeException(), Exception)
    assert validation.TooSmallException("ab", 3).min_length == 3


# -- get_contextvar / context ----------------------------------------------------------------------


def test_get_contextvar_returns_one_named_variable_per_key() -> None:
    variable = tomodachi.get_contextvar("compat.test.key")
    assert variable is tomodachi.get_contextvar("compat.test.key")
    assert variable.name == "tomodachi.compat.test.key"
    assert variable.get() is None and tomodachi.context("compat.test.key") is None
    token = variable.set({"a": 1})
    try:
        assert tomodachi.context("compat.test.key") == {"a": 1}
    finally:
        variable.reset(token)


def test_exit_code_and_service_logger_are_computed_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tomodachi, "SERVICE_EXIT_CODE", 0)
    assert tomodachi.context("exit_code") == 0
    monkeypatch.setattr(tomodachi, "SERVICE_EXIT_CODE", 4)
    assert tomodachi.context("exit_code") == 4
    token = tomodachi.get_contextvar("exit_code").set(-1)  # the original test helper's pattern
    try:
        assert tomodachi.context("exit_code") == -1
    finally:
        tomodachi.get_contextvar("exit_code").reset(token)
    assert tomodachi.context("service.logger") == tomodachi.get_logger().name


async def test_exit_code_follows_tomodachi_exit_in_a_run() -> None:
    from tomodachi.runtime import Runtime

    runtime = Runtime()
    token = runtime.activate()
    try:
        runtime.request_stop("test", 7)
        assert tomodachi.context("exit_code") == 7
    finally:
        Runtime.deactivate(token)


# -- execution context -------------------------------------------------------------------------------


@pytest.fixture
def clean_execution_context() -> Iterator[None]:
    from tomodachi.execution_context import _clear_execution_context

    _clear_execution_context()
    yield
    _clear_execution_context()


@pytest.mark.usefixtures("clean_execution_context")
def test_execution_context_facts_and_stored_values() -> None:
    import os
    import platform

    facts = tomodachi.get_execution_context()
    assert facts["tomodachi_version"] == tomodachi.__version__
    assert facts["python_version"] == platform.python_version()
    assert facts["system_platform"] == platform.system()
    assert facts["process_id"] == os.getpid()
    assert facts["cwd"] == os.getcwd()
    assert facts["event_loop"] is None  # no loop runs here
    assert facts["watcher_enabled"] is False
    for key in ("http_enabled", "aws_sns_sqs_enabled", "amqp_enabled", "scheduled_functions_enabled"):
        assert facts[key] is False  # no run
    assert not any(key.endswith(("_current_tasks", "_total_tasks")) for key in facts)

    tomodachi.set_execution_context({"custom": "x", "http_enabled": "mine"})
    tomodachi.increase_execution_context_value("counter")
    tomodachi.increase_execution_context_value("counter", 5)
    tomodachi.decrease_execution_context_value("counter")
    tomodachi.decrease_execution_context_value("other", 2)
    values = tomodachi.get_execution_context()
    assert values["custom"] == "x" and values["http_enabled"] == "mine"
    assert values["counter"] == 5 and values["other"] == -2
    values["custom"] = "changed"  # a copy
    assert tomodachi.get_execution_context()["custom"] == "x"


@pytest.mark.usefixtures("clean_execution_context")
async def test_execution_context_event_loop_inside_a_loop() -> None:
    assert tomodachi.get_execution_context()["event_loop"] in ("asyncio", "uvloop")


# -- TOMODACHI_CLASSES, CLASS_ATTRIBUTE, TomodachiServiceMeta ------------------------------------------


def test_every_service_class_is_recorded_and_only_leaves_are_marked() -> None:
    assert tomodachi.CLASS_ATTRIBUTE == "_tomodachi_class_is_service_class"

    class Base(tomodachi.Service):
        name = "base"

    assert Base in tomodachi.TOMODACHI_CLASSES
    assert getattr(Base, tomodachi.CLASS_ATTRIBUTE) is True

    class Leaf(Base):
        name = "leaf"

    assert tomodachi.TOMODACHI_CLASSES[-2:] == [Base, Leaf]
    assert tomodachi.CLASS_ATTRIBUTE not in vars(Base)  # a subclassed service class is a base
    assert vars(Leaf)[tomodachi.CLASS_ATTRIBUTE] is True
    assert tomodachi.Service not in tomodachi.TOMODACHI_CLASSES
    assert not hasattr(tomodachi.Service, tomodachi.CLASS_ATTRIBUTE)


def test_the_marker_does_not_change_which_classes_a_file_starts() -> None:
    import types

    module = types.ModuleType("compat_marker_module")

    class Base(tomodachi.Service):
        pass

    class Leaf(Base):
        pass

    class Other(tomodachi.Service):
        pass

    for cls in (Base, Leaf, Other):
        cls.__module__ = module.__name__
        setattr(module, cls.__name__, cls)
    assert service_classes(module) == [Leaf, Other]


def test_tomodachi_service_meta() -> None:
    Meta = tomodachi.TomodachiServiceMeta

    class Plain:
        pass

    class Classic(tomodachi.Service):
        pass

    assert isinstance(Classic, Meta) and not isinstance(Plain, Meta) and not isinstance(Classic(), Meta)
    assert Meta is not type(tomodachi.Service)

    class ViaMeta(metaclass=Meta):  # type: ignore[metaclass]  # an alias mypy cannot follow
        name = "via-meta"

        async def _start_service(self) -> None:
            pass

    assert issubclass(ViaMeta, tomodachi.Service) and ViaMeta.name == "via-meta"
    assert ViaMeta.__qualname__.endswith("test_tomodachi_service_meta.<locals>.ViaMeta")
    assert ViaMeta in tomodachi.TOMODACHI_CLASSES  # type: ignore[comparison-overlap]  # (the metaclass)
    assert isinstance(ViaMeta, Meta)

    class SubOfService(Classic, metaclass=Meta):  # type: ignore[metaclass]  # as above
        pass

    assert SubOfService.__bases__ == (Classic,)


# -- tomodachi.invoker ---------------------------------------------------------------------------------


def test_invoker_names() -> None:
    from tomodachi.invoker import (
        FUNCTION_ATTRIBUTE,
        INVOKER_TASK_START_KEYWORD,
        START_ATTRIBUTE,
        Invoker,
        decorator,
    )
    from tomodachi.invoker.base import Invoker as BaseInvoker

    assert decorator is tomodachi.decorator and tomodachi.invoker.decorator is tomodachi.decorator
    assert BaseInvoker is Invoker and isinstance(Invoker.context, dict)
    assert FUNCTION_ATTRIBUTE == "_tomodachi_function_is_invoker_function"
    assert START_ATTRIBUTE == "_tomodachi_deprecated_invoker_function_start_marker"
    assert INVOKER_TASK_START_KEYWORD == "_tomodachi_invoker_task_start_keyword"


async def test_invoker_decorator_from_the_invoker_package_wraps_handlers() -> None:
    from tomodachi.invoker import decorator

    @decorator
    async def deny(self: Any, value: int) -> Any:
        return None if value > 0 else "denied"

    class Svc(tomodachi.Service):
        @deny
        async def handler(self, value: int) -> str:
            return "ok"

    assert await Svc().handler(1) == "ok"
    assert await Svc().handler(0) == "denied"


def test_an_original_style_invoker_transport_fails_at_decoration_with_a_one_line_hint() -> None:
    from tomodachi.invoker import Invoker

    class MyTransport(Invoker):
        @classmethod
        async def register(cls, obj: Any, context: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
            return None

    my_trigger = MyTransport.decorator(MyTransport.register)  # defining it still works

    with pytest.raises(tomodachi.TomodachiError) as info:

        class Called(tomodachi.Service):
            @my_trigger("arg", key=1)  # type: ignore[untyped-decorator]  # the original's untyped API
            async def handler(self) -> None:
                pass

    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("MyTransport is a tomodachi.invoker.Invoker transport")
    assert "Called.handler" in message and "tomodachi.Transport" in message
    assert "Writing your own transport" in message

    with pytest.raises(tomodachi.TomodachiError, match="MyTransport"):

        class Bare(tomodachi.Service):
            @my_trigger
            async def handler(self) -> None:
                pass


# -- HTTP names and submodules -------------------------------------------------------------------------


def test_http_names() -> None:
    from aiohttp.test_utils import make_mocked_request

    from tomodachi.transport.http import RequestHandler, resolve_response, resolve_response_sync, responses

    assert resolve_response is responses.resolve_response
    assert resolve_response_sync is responses.resolve_response_sync
    request = make_mocked_request("GET", "/", headers={"X-Forwarded-For": "10.0.0.1"})
    with pytest.warns(DeprecationWarning, match="get_forwarded_remote_ip"):
        ip = RequestHandler.get_request_ip(request, {"ignored": "context"})
    assert ip == tomodachi.get_forwarded_remote_ip(request)


def test_submodules_are_attributes() -> None:
    import tomodachi.container
    import tomodachi.importer
    import tomodachi.runner

    assert tomodachi.container.ServiceContainer is not None
    assert tomodachi.importer.service_classes is service_classes
    assert tomodachi.runner.run_files is not None


def test_the_new_names_keep_import_tomodachi_light() -> None:
    modules = _modules_after(
        "import tomodachi\n"
        "tomodachi.context('exit_code'), tomodachi.get_contextvar('run.args')\n"
        "tomodachi.get_execution_context(), tomodachi.increase_execution_context_value('x')\n"
        "tomodachi.TOMODACHI_CLASSES, tomodachi.CLASS_ATTRIBUTE, tomodachi.TomodachiServiceMeta\n"
        "from tomodachi.invoker import Invoker, decorator\n"
        "from tomodachi.validation import validate_field_regex\n"
        "import tomodachi.validation.validation"
    )
    assert not HEAVY & modules
    assert "tomodachi.context_vars" in modules
    bare = _modules_after("import tomodachi")
    assert (
        not {
            "tomodachi.context_vars",
            "tomodachi.execution_context",
            "tomodachi.invoker",
            "tomodachi.validation",
        }
        & bare
    )


# -- a service file using them, run with `tomodachi run` ----------------------------------------------

COMPAT_APP = """
    import json

    import tomodachi
    from tomodachi import (
        CLASS_ATTRIBUTE,
        TOMODACHI_CLASSES,
        context,
        get_contextvar,
        get_execution_context,
        increase_execution_context_value,
        set_execution_context,
    )
    from tomodachi.invoker import decorator
    from tomodachi.transport.http import RequestHandler
    from tomodachi.validation.validation import RegexMissmatchException, validate_field_regex


    @decorator
    async def valid_id(self, request, id):
        try:
            validate_field_regex(id, r"^[0-9a-f]{4}$")
        except RegexMissmatchException:
            return 400, "invalid id"


    class Base(tomodachi.Service):
        name = "base"


    class App(Base):
        name = "compat-app"
        options = tomodachi.Options(http={"port": 0})

        @tomodachi.http("GET", r"/item/(?P<id>[^/]+)")
        @valid_id
        async def item(self, request, id):
            increase_execution_context_value("items_served")
            return json.dumps({"id": id, "ip": RequestHandler.get_request_ip(request)})

        @tomodachi.http("GET", r"/facts")
        async def facts(self, request):
            return json.dumps(
                {
                    "execution_context": get_execution_context(),
                    "run.args": context("run.args"),
                    "loop.setting": context("loop.setting"),
                    "exit_code": context("exit_code"),
                    "same_var": get_contextvar("run.args").get() == context("run.args"),
                    "classes": [cls.__name__ for cls in TOMODACHI_CLASSES],
                    "marked": {cls.__name__: cls.__dict__.get(CLASS_ATTRIBUTE, False) for cls in (Base, App)},
                    "services": sorted(tomodachi.get_services()),
                }
            )

        @tomodachi.http("POST", r"/exit")
        async def stop(self, request):
            tomodachi.exit(3)
            return "bye"

        async def _started_service(self):
            set_execution_context({"app_started": True})

        async def _stopping_service(self):
            self.logger.info("exit code seen", code=context("exit_code"))
"""


def _get(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_service_file_using_the_kept_names_runs(
    write: Callable[[str, str], Path], spawn: Callable[..., Any]
) -> None:
    write("compat_app.py", COMPAT_APP)
    process = spawn("run", "--production", "compat_app.py", "--loop", "asyncio")
    line = process.wait_for_stderr("accepting http requests")
    port = int(re.search(r"listen_port=(\d+)", line).group(1))  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"

    assert _get(f"{base}/item/zz") == (400, "invalid id")
    status, body = _get(f"{base}/item/ab12")
    assert status == 200 and json.loads(body) == {"id": "ab12", "ip": "127.0.0.1"}

    status, body = _get(f"{base}/facts")
    assert status == 200
    facts = json.loads(body)
    execution_context = facts["execution_context"]
    assert execution_context["http_enabled"] is True
    assert execution_context["scheduled_functions_enabled"] is False
    assert execution_context["amqp_enabled"] is False and execution_context["aws_sns_sqs_enabled"] is False
    assert execution_context["event_loop"] == "asyncio"
    assert execution_context["aiohttp_version"]
    assert execution_context["process_id"] == process.proc.pid
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", execution_context["init_timestamp"])
    assert execution_context["app_started"] is True and execution_context["items_served"] == 1
    assert facts["run.args"] == ["--production", "compat_app.py", "--loop", "asyncio"]
    assert facts["loop.setting"] == "asyncio"
    assert facts["exit_code"] == 0 and facts["same_var"] is True
    assert facts["classes"] == ["Base", "App"]
    assert facts["marked"] == {"Base": False, "App": True}
    assert facts["services"] == ["compat-app"]  # the marker changed nothing: the base is not started

    assert _get(f"{base}/exit", method="POST")[0] == 200
    assert process.wait() == 3
    assert re.search(r"exit code seen.*code=3", process.stderr), process.stderr


INVOKER_APP = """
    import tomodachi
    from tomodachi.invoker import Invoker


    class MyTransport(Invoker):
        @classmethod
        async def register(cls, obj, context, func, *args, **kwargs):
            return None


    my_trigger = MyTransport.decorator(MyTransport.register)


    class App(tomodachi.Service):
        name = "invoker-app"

        @my_trigger("topic")
        async def handler(self):
            pass
"""


def test_a_service_with_an_invoker_transport_exits_1_with_one_line(
    write: Callable[[str, str], Path], spawn: Callable[..., Any]
) -> None:
    write("invoker_app.py", INVOKER_APP)
    process = spawn("run", "--production", "invoker_app.py")
    assert process.wait() == 1
    lines = [line for line in process.stderr_lines if "Invoker transport" in line]
    assert len(lines) == 1, process.stderr
    assert "port it to a tomodachi.Transport subclass" in lines[0]
    assert "Traceback" not in process.stderr
