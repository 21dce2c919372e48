"""``tomodachi run`` end to end: real processes, signals, exit codes, log lines and the banner."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tomodachi.__version__ import __version__
from tomodachi.runner import FORCE_AFTER

Run = Callable[..., subprocess.CompletedProcess[str]]
Write = Callable[[str, str], Path]
Spawn = Callable[..., Any]

EXIT_3 = """
    import tomodachi


    class Exiting(tomodachi.Service):
        name = "exiting"

        async def _start_service(self):
            self.logger.info("start hook ran")

        async def _started_service(self):
            tomodachi.exit(3)
"""

LONG_RUNNING = """
    import asyncio

    import tomodachi


    class Waiting(tomodachi.Service):
        name = "{name}"

        async def _started_service(self):
            pass

        async def _stop_service(self):
            self.logger.info("stop hook for {name}")
"""

SLOW_STOP = """
    import asyncio

    import tomodachi


    class SlowStop(tomodachi.Service):
        name = "slow-stop"

        async def _started_service(self):
            pass

        async def _stop_service(self):
            self.logger.info("stop hook sleeping")
            await asyncio.sleep(60)
"""

EXIT_0 = """
    import tomodachi


    class Quick(tomodachi.Service):
        name = "quick"

        async def _started_service(self):
            tomodachi.exit(0)
"""


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error" in line.lower()]


def test_exit_code_from_tomodachi_exit(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_3)
    result = run_cli("run", "--production", "app.py")
    assert result.returncode == 3, result.stderr
    stderr = result.stderr
    positions = [
        stderr.index(message)
        for message in (
            "initializing service instance",
            "start hook ran",
            "started service successfully",
            "terminated service",
        )
    ]
    assert positions == sorted(positions), stderr
    assert "tomodachi.exit [3] was called" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("loop", ["asyncio", "auto"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_with_exit_code_0(
    spawn: Spawn, write: Write, signum: signal.Signals, loop: str
) -> None:
    write("app.py", LONG_RUNNING.format(name="waiting"))
    process = spawn("run", "--production", "app.py", "--loop", loop)
    process.wait_for_stderr("started service successfully")
    process.send(signum)
    assert process.wait() == 0, process.stderr
    stderr = process.stderr
    assert "stop hook for waiting" in stderr
    assert stderr.index("stopping service") < stderr.index("terminated service")
    expected = "interrupt signal" if signum == signal.SIGINT else "received termination signal"
    assert expected in stderr
    assert "Traceback" not in stderr


def test_second_sigint_forces_exit_130(spawn: Spawn, write: Write) -> None:
    write("app.py", SLOW_STOP)
    process = spawn("run", "--production", "app.py")
    process.wait_for_stderr("started service successfully")
    process.send(signal.SIGINT)
    process.wait_for_stderr("stop hook sleeping")
    time.sleep(FORCE_AFTER)  # a SIGINT sooner than this is taken for a copy of the first
    process.send(signal.SIGINT)
    assert process.wait() == 130, process.stderr
    assert "terminated service" not in process.stderr


QUICK_STOP = """
    import tomodachi


    class QuickStop(tomodachi.Service):
        name = "quick-stop"

        async def _started_service(self):
            pass

        async def _stop_service(self):
            self.logger.info("stop hook ran")
"""


def test_duplicate_sigint_is_not_a_second_ctrl_c(spawn: Spawn, write: Write) -> None:
    """``timeout -s INT`` signals the child and then its process group: SIGINT arrives twice."""
    write("app.py", QUICK_STOP)
    process = spawn("run", "--production", "app.py")
    process.wait_for_stderr("started service successfully")
    process.send(signal.SIGINT)
    process.send(signal.SIGINT)
    assert process.wait() == 0, process.stderr
    assert "stop hook ran" in process.stderr and "terminated service" in process.stderr
    assert "forcing exit" not in process.stderr and "Traceback" not in process.stderr


def test_exception_in_start_service(run_cli: Run, write: Write) -> None:
    write(
        "boom.py",
        """
        import tomodachi


        class Boom(tomodachi.Service):
            name = "boom"

            async def _start_service(self):
                raise RuntimeError("kaboom")
        """,
    )
    result = run_cli("run", "--production", "boom.py")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    named = [
        line for line in result.stderr.splitlines() if "boom.py" in line and "RuntimeError: kaboom" in line
    ]
    assert len(named) == 1, result.stderr
    assert "terminated service" in result.stderr


def test_syntax_error(run_cli: Run, write: Write) -> None:
    write("broken.py", "import tomodachi\nclass Broken(tomodachi.Service:\n    pass\n")
    result = run_cli("run", "--production", "broken.py")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "broken.py" in lines[0] and "syntax error" in lines[0]


def test_exception_at_import(run_cli: Run, write: Write) -> None:
    write("imports.py", "import tomodachi\nraise ValueError('bad module')\n")
    result = run_cli("run", "--production", "imports.py")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "imports.py" in lines[0] and "ValueError: bad module" in lines[0], (
        result.stderr
    )


def test_missing_service_file(run_cli: Run) -> None:
    result = run_cli("run", "--production", "missing.py")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "missing.py" in lines[0], result.stderr


def test_no_handlers_and_no_hooks(run_cli: Run, write: Write) -> None:
    write("empty.py", "import tomodachi\n\n\nclass Empty(tomodachi.Service):\n    name = 'empty'\n")
    result = run_cli("run", "--production", "empty.py")
    assert result.returncode == 1, result.stderr
    assert "no transport handlers defined" in result.stderr
    assert "Traceback" not in result.stderr


def test_two_service_files_in_one_process(spawn: Spawn, write: Write) -> None:
    write("first.py", LONG_RUNNING.format(name="first"))
    write("second.py", LONG_RUNNING.format(name="second"))
    process = spawn("run", "--production", "first.py", "second.py")
    process.wait_for_stderr(r"started service successfully.*service=first")
    process.wait_for_stderr(r"started service successfully.*service=second")
    process.send(signal.SIGTERM)
    assert process.wait() == 0, process.stderr
    stderr = process.stderr
    assert "stop hook for first" in stderr and "stop hook for second" in stderr
    pids = {line for line in stderr.splitlines() if "initializing service instance" in line}
    assert len(pids) == 2


def test_service_files_are_deduplicated(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_0)
    result = run_cli("run", "--production", "app.py", "./app.py", "app.py")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("initializing service instance") == 1


@pytest.mark.parametrize("command", ["run", "start", "go"])
def test_banner_on_stdout(run_cli: Run, write: Write, command: str) -> None:
    write("app.py", EXIT_0)
    result = run_cli(command, "app.py", "--loop", "asyncio")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "▀█▀ █▀█ █▀▄▀█" in out
    assert f"⇢ $ tomodachi {command} app.py --loop asyncio" in out
    assert "service file           ⇢ ./app.py" in out
    assert f"tomodachi version      ⇢ {__version__}" in out
    assert "event loop             ⇢ asyncio" in out
    assert "⌁ [notice ] stop running services with <ctrl+c> (graceful teardown)" in out
    assert "\033[" not in out  # not a terminal: no colour
    assert "initializing service instance" not in out  # logs go to stderr


def test_banner_lists_several_files_and_uvloop(run_cli: Run, write: Write) -> None:
    pytest.importorskip("uvloop")
    from importlib.metadata import version

    write("a.py", EXIT_0)
    write("b.py", EXIT_0.replace('"quick"', '"quick-b"'))
    result = run_cli("run", "a.py", "b.py", "--loop", "uvloop")
    assert result.returncode == 0, result.stderr
    assert "service file [2]       ⇢ ./a.py" in result.stdout
    assert "./b.py" in result.stdout
    assert f"event loop             ⇢ uvloop (version: {version('uvloop')})" in result.stdout


def test_production_disables_banner(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_0)
    result = run_cli("run", "app.py", "--production")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "started service successfully" in result.stderr


@pytest.mark.parametrize(("value", "banner"), [("1", False), ("true", False), ("false", True), ("0", True)])
def test_env_production(run_cli: Run, write: Write, value: str, banner: bool) -> None:
    write("app.py", EXIT_0)
    result = run_cli("run", "app.py", env={"TOMODACHI_PRODUCTION": value})
    assert result.returncode == 0, result.stderr
    assert ("tomodachi version" in result.stdout) is banner


def test_env_loop(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_0)
    result = run_cli("run", "app.py", env={"TOMODACHI_LOOP": "aio"})
    assert result.returncode == 0, result.stderr
    assert "event loop             ⇢ asyncio\n" in result.stdout


def test_env_logger_json_and_flag_wins(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_0)
    result = run_cli("run", "--production", "app.py", env={"TOMODACHI_LOGGER": "json"})
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert "started service successfully" in [r.get("message") for r in records]

    result = run_cli("run", "--production", "app.py", "--logger", "console", env={"TOMODACHI_LOGGER": "json"})
    assert result.returncode == 0, result.stderr
    assert "started service successfully" in result.stderr
    assert not result.stderr.lstrip().startswith("{")


def test_log_level_flag_and_env(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_0)
    for args, env in (
        ((), {"TOMODACHI_LOG_LEVEL": "warning"}),
        (("-l", "WARNING"), {"TOMODACHI_LOG_LEVEL": "debug"}),
    ):
        result = run_cli("run", "--production", "app.py", *args, env=env)
        assert result.returncode == 0, result.stderr
        assert "started service successfully" not in result.stderr
        assert "tomodachi.exit [0] was called" in result.stderr


def test_logger_disabled(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_3)
    result = run_cli("run", "--production", "--logger", "disabled", "app.py")
    assert result.returncode == 3
    assert result.stderr == ""


def test_custom_logger_from_env_keeps_case(run_cli: Run, write: Write) -> None:
    write(
        "MyLogging.py",
        """
        import sys


        class Printer:
            def __getattr__(self, level):
                def log(event, **kwargs):
                    print(f"CUSTOM {level} {event}", file=sys.stderr, flush=True)

                return log


        class Factory:
            def get_logger(self, *args, **kwargs):
                return Printer()


        FACTORY = Factory()
        """,
    )
    write("app.py", EXIT_0)
    result = run_cli("run", "--production", "app.py", env={"TOMODACHI_CUSTOM_LOGGER": "MyLogging.FACTORY"})
    assert result.returncode == 0, result.stderr
    assert "CUSTOM info started service successfully" in result.stderr


def test_config_files(run_cli: Run, write: Write, tmp_path: Path) -> None:
    write(
        "app.py",
        """
        import json

        import tomodachi


        class Configured(tomodachi.Service):
            name = "configured"
            my_list = ["a"]

            async def _started_service(self):
                values = {
                    "port": self.options.http.port,
                    "my_value": self.my_value,
                    "my_list": self.my_list,
                    "nested": self.nested,
                }
                print(json.dumps(values), flush=True)
                tomodachi.exit(0)
        """,
    )
    (tmp_path / "one.json").write_text(
        json.dumps({"options": {"http": {"port": 0}}, "my_value": 4, "my_list": ["b"], "nested": {"x": 1}})
    )
    (tmp_path / "two.json").write_text(json.dumps({"my_value": 5, "my_list": ["c"], "nested": {"y": 2}}))
    result = run_cli("run", "--production", "-c", "one.json", "two.json", "app.py")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {"port": 0, "my_value": 5, "my_list": ["a", "b", "c"], "nested": {"x": 1, "y": 2}}


def test_programmatic_tomodachi_run(write: Write, tmp_path: Path, cli_environ: dict[str, str]) -> None:
    write(
        "main.py",
        EXIT_3
        + """

    if __name__ == "__main__":
        tomodachi.run(production=True, log_level="info")
    """,
    )
    result = subprocess.run(
        [sys.executable, "main.py"],
        cwd=tmp_path,
        env=cli_environ,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3, result.stderr
    assert "started service successfully" in result.stderr
    assert result.stdout == ""


def test_bad_option_value_from_config(run_cli: Run, write: Write, tmp_path: Path) -> None:
    write("app.py", EXIT_0)
    (tmp_path / "bad.json").write_text(json.dumps({"options": {"http": {"port": "abc"}}}))
    result = run_cli("run", "--production", "app.py", "-c", "bad.json")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "app.py" in lines[0] and "'http.port'" in lines[0], result.stderr
