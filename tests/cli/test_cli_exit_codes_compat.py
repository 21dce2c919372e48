"""Exit codes as the original's users rely on them, through real ``tomodachi run`` processes.

- a service file without a service class, or a service class without handlers and hooks, logs
  ``no transport handlers defined`` and exits 1 (instead of running forever);
- ``tomodachi.SERVICE_EXIT_CODE`` is the exit code of a run that ended normally, and
  ``tomodachi.exit(n)`` / ``tomodachi.exit()`` set / use it;
- ``cli_entrypoint(argv)`` takes a whole command line: ``argv[0]`` is the program name.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tomodachi
from tomodachi.__version__ import __version__
from tomodachi.cli import cli_entrypoint

Run = Callable[..., subprocess.CompletedProcess[str]]
Write = Callable[[str, str], Path]
Spawn = Callable[..., Any]


def _records(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


# -- no service class / no handlers -------------------------------------------------------------

NOT_A_SERVICE = """
    class Helper:
        name = "helper"

        def noop(self):
            pass
"""

EMPTY_SERVICE = """
    import tomodachi


    class Empty(tomodachi.Service):
        name = "empty"
"""


@pytest.mark.parametrize(
    "source", [NOT_A_SERVICE, EMPTY_SERVICE, ""], ids=["plain-class", "empty-service", "empty-file"]
)
def test_nothing_to_run_exits_1(run_cli: Run, write: Write, source: str) -> None:
    write("app.py", source)
    result = run_cli("run", "--production", "--logger", "json", "app.py", timeout=20)
    assert result.returncode == 1, result.stderr
    records = _records(result.stderr)
    init = [r for r in records if r.get("logger") == "tomodachi.init"]
    assert [r.get("message") for r in init] == ["no transport handlers defined"], result.stderr
    errors = [r for r in records if r.get("level") == "error" and r.get("logger") != "tomodachi.init"]
    assert len(errors) == 1 and "app.py" in errors[0]["message"], result.stderr
    assert "Traceback" not in result.stderr


def test_file_without_service_class_next_to_a_service(run_cli: Run, write: Write) -> None:
    """One file with nothing to run fails the run, even when the other file is fine."""
    write("helper.py", NOT_A_SERVICE)
    write(
        "app.py",
        """
        import tomodachi


        class App(tomodachi.Service):
            name = "app"

            async def _started_service(self):
                tomodachi.exit(0)
        """,
    )
    result = run_cli("run", "--production", "app.py", "helper.py", timeout=20)
    assert result.returncode == 1, result.stderr
    assert "no transport handlers defined" in result.stderr


# -- tomodachi.SERVICE_EXIT_CODE ----------------------------------------------------------------

SET_IN_STOP_HOOK = """
    import tomodachi


    class App(tomodachi.Service):
        name = "app"

        async def _started_service(self):
            self.logger.info("ready to be stopped")

        async def _stop_service(self):
            tomodachi.SERVICE_EXIT_CODE = 4
"""

EXIT_WITHOUT_CODE = """
    import tomodachi


    class App(tomodachi.Service):
        name = "app"

        async def _started_service(self):
            tomodachi.SERVICE_EXIT_CODE = 5
            tomodachi.exit()
"""

EXIT_WITH_CODE = """
    import tomodachi


    class App(tomodachi.Service):
        name = "app"

        async def _started_service(self):
            print("default", tomodachi.DEFAULT_SERVICE_EXIT_CODE, tomodachi.SERVICE_EXIT_CODE, flush=True)
            tomodachi.exit(3)

        async def _stop_service(self):
            print("after exit", tomodachi.SERVICE_EXIT_CODE, flush=True)
"""


def test_service_exit_code_set_by_service_after_sigterm(spawn: Spawn, write: Write) -> None:
    write("app.py", SET_IN_STOP_HOOK)
    process = spawn("run", "--production", "app.py")
    process.wait_for_stderr("ready to be stopped")
    process.send(signal.SIGTERM)
    assert process.wait() == 4, process.stderr


def test_exit_without_code_uses_service_exit_code(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_WITHOUT_CODE)
    result = run_cli("run", "--production", "app.py", timeout=20)
    assert result.returncode == 5, result.stderr
    assert "tomodachi.exit [5] was called" in result.stderr


def test_exit_with_code_sets_service_exit_code(run_cli: Run, write: Write) -> None:
    write("app.py", EXIT_WITH_CODE)
    result = run_cli("run", "--production", "app.py", timeout=20)
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == ["default 0 0", "after exit 3"]


def test_failure_exits_1_whatever_service_exit_code_holds(run_cli: Run, write: Write) -> None:
    write(
        "app.py",
        """
        import tomodachi

        tomodachi.SERVICE_EXIT_CODE = 9


        class App(tomodachi.Service):
            name = "app"

            async def _start_service(self):
                raise RuntimeError("kaboom")
        """,
    )
    result = run_cli("run", "--production", "app.py", timeout=20)
    assert result.returncode == 1, result.stderr


def test_module_attributes() -> None:
    assert tomodachi.DEFAULT_SERVICE_EXIT_CODE == 0
    assert isinstance(tomodachi.SERVICE_EXIT_CODE, int)


# -- cli_entrypoint(argv) -----------------------------------------------------------------------


def test_cli_entrypoint_skips_program_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        cli_entrypoint(["tomodachi", "--version"])
    assert exc_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tomodachi {__version__}"


def test_cli_entrypoint_without_argv_reads_sys_argv(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/bin/tomodachi", "-v"])
    with pytest.raises(SystemExit) as exc_info:
        cli_entrypoint()
    assert exc_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tomodachi {__version__}"


def test_cli_entrypoint_only_program_name_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        cli_entrypoint(["tomodachi"])
    assert exc_info.value.code == 0
    assert "tomodachi run [options] <service.py ...>" in capsys.readouterr().out


def test_cli_entrypoint_with_sys_argv_from_a_script(
    write: Write, tmp_path: Path, cli_environ: dict[str, str]
) -> None:
    """A launcher script written for the original: ``cli_entrypoint(sys.argv)``."""
    write("app.py", EXIT_WITH_CODE)
    write(
        "launch.py",
        """
        import sys

        from tomodachi.cli import cli_entrypoint

        if __name__ == "__main__":
            cli_entrypoint(sys.argv)
        """,
    )
    result = subprocess.run(
        [sys.executable, "launch.py", "run", "--production", "app.py"],
        cwd=tmp_path,
        env=cli_environ,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3, result.stderr
    assert "after exit 3" in result.stdout
