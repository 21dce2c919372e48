"""Lifecycle, exit codes, legacy styles and imports of original-style service files (``tomodachi run``)."""

from __future__ import annotations

import re
import signal
import socket
import sys

import aiohttp
import pytest

from tests.compat._compat_support import SERVICES, Corpus, run, start


def test_lifecycle_hooks_run_in_the_original_order(corpus: Corpus) -> None:
    result = corpus.result("lifecycle_service.py")
    assert result.returncode == 0, result.describe()
    order = result.event("order")["order"]
    assert order[:2] == ["_start_service", "_started_service"], order
    assert order[-2:] == ["_stopping_service", "_stop_service"], order
    assert order[2:-2] and set(order[2:-2]) == {"every_second"}, order
    started = result.event("started")
    assert started == {
        "event": "started",
        "port_is_int": True,
        "body": "hello compat_lifecycle",
        "get_service": True,
        "get_service_by_name": True,
        "get_instance": True,
        "get_services": ["compat_lifecycle"],
        "unknown_service": None,
        "uuid_is_str": True,
        "options_type": "Options",
        "schedule_ran_during_started": False,  # schedules start once _started_service returned
    }
    scheduled = result.event("scheduled")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", scheduled["invocation_time"]), scheduled
    assert scheduled["interval"] == 1


def test_lifecycle_log_lines(corpus: Corpus) -> None:
    result = corpus.result("lifecycle_service.py")
    for line in (
        r"initializing service instance",
        r"starting the service",
        r"enabled handler functions",
        r"started service successfully",
        r"tomodachi\.exit \[0\] was called",
        r"stopping service",
        r"terminated service",
        r"the deprecated self\.log still logs",
        r"hello called",
    ):
        assert result.logged(line), f"{line!r} not logged; {result.describe()}"


def test_legacy_decorated_class_with_tomodachi_decorator_variants(corpus: Corpus) -> None:
    result = corpus.result("legacy_service.py")
    assert result.returncode == 0, result.describe()  # it sent itself SIGINT
    assert result.logged(r"interrupt signal")
    got = result.event("responses")
    assert got["responses"] == {
        "/count/1": [200, "1"],
        "/count/2": [200, "2"],
        "/count/3": [200, "3"],
        "/count/4": [200, "4"],
        "/count/0": [200, "0"],  # the check returned "0": the handler is not called
        "create with wrong": [403, "Invalid token"],
        "create with secret": [200, "created"],
    }
    assert got["invocation_count"] == 5
    assert got["wrapped_names"] == ["count_3"]  # include_function=True passes the handler
    assert got["is_service"] is True
    assert got["options_type"] == "Options"  # the dict options became an Options object
    assert result.has("stopped")


def test_exit_code_from_tomodachi_exit(corpus: Corpus) -> None:
    result = corpus.result("exit_code_128_service.py")
    assert result.returncode == 128, result.describe()
    assert result.has("stopped")
    assert result.logged(r"tomodachi\.exit \[128\] was called")


def test_exit_code_from_tomodachi_service_exit_code(corpus: Corpus) -> None:
    result = corpus.result("exit_code_attribute_service.py")
    assert result.returncode == 7, result.describe()


def test_exception_in_start_service_exits_1(corpus: Corpus) -> None:
    result = corpus.result("exception_service.py")
    assert result.returncode == 1, result.describe()
    assert result.logged(r"failed to start service")


def test_exception_in_init_exits_1(corpus: Corpus) -> None:
    result = corpus.result("exception_service_init.py")
    assert result.returncode == 1, result.describe()
    assert result.logged(r"failed to initialize instance")


def test_service_without_handlers_or_hooks_exits_1(corpus: Corpus) -> None:
    result = corpus.result("empty_service.py")
    assert not result.timed_out and result.returncode == 1, result.describe()
    assert result.logged(r"no transport handlers defined")


def test_file_without_a_service_class_exits_1(corpus: Corpus) -> None:
    result = corpus.result("non_service_class.py")
    assert not result.timed_out and result.returncode == 1, result.describe()
    assert result.logged(r"no transport handlers defined")


def test_relative_import_in_a_directory_without_init(corpus: Corpus) -> None:
    result = corpus.result("relative_service.py")
    assert result.returncode == 0, result.describe()
    assert result.event("imported")["value"] == "relative import works"


def test_relative_import_inside_a_package(corpus: Corpus) -> None:
    result = corpus.result("package_service/service.py")
    assert result.returncode == 0, result.describe()
    assert result.event("imported")["value"] == "from a sibling module"


async def test_missing_service_file_exits_1() -> None:
    result = await run("no_such_service_file.py")
    assert result.returncode == 1, result.describe()
    assert result.logged(r"no such service file")


async def test_service_path_without_py_suffix() -> None:
    result = await run("exit_code_128_service")
    assert result.returncode == 128, result.describe()


async def test_tomodachi_run_from_the_service_file() -> None:
    result = await run(argv=[sys.executable, str(SERVICES / "run_by_itself.py")])
    assert result.returncode == 3, result.describe()
    assert result.has("started")


async def test_cli_entrypoint_with_sys_argv() -> None:
    script = (
        "import sys\n"
        "from tomodachi.cli import cli_entrypoint\n"
        "sys.argv = ['tomodachi', 'run', '--production', 'exit_code_128_service.py']\n"
        "cli_entrypoint(sys.argv)\n"
    )
    result = await run(argv=[sys.executable, "-c", script])
    assert result.returncode == 128, result.describe()


def test_subclass_of_an_imported_service_class(corpus: Corpus) -> None:
    result = corpus.result("inherit_service.py")
    assert result.returncode == 0, result.describe()
    got = result.event("inherited")
    assert got["responses"] == {
        "/base": [200, "base route of compat_child"],
        "/child": [200, "child"],
        "/overridden": [200, "from the child"],
    }
    assert got["services"] == ["compat_child"]  # the imported base class is not started


async def test_http_refuses_connections_until_start_service_returned() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await start("slow_start_service.py", env={"COMPAT_PORT": str(port)})
    try:
        await process.wait_event("start_service")
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    await response.text()
            await process.wait_event("started_service")
            async with session.get(f"http://127.0.0.1:{port}/") as response:
                assert (response.status, await response.text()) == (200, "ok")
        result = await process.stop(signal.SIGINT)
        assert result.returncode == 0, result.describe()
    finally:
        await process.aclose()


async def test_sigterm_while_started_service_never_returns() -> None:
    process = await start("started_forever_service.py")
    try:
        await process.wait_event("started_service")
        result = await process.stop(signal.SIGTERM)
        assert result.returncode == 0, result.describe()
        assert [e["event"] for e in result.events] == ["started_service", "stopping_service", "stop_service"]
    finally:
        await process.aclose()
