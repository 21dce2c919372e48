"""Usage, version, help and every usage error of the real ``tomodachi`` command (exit code 2)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tomodachi.__version__ import __version__

Run = Callable[..., subprocess.CompletedProcess[str]]
HINT = "use the '--help' option for cli usage help."


def assert_usage_error(result: subprocess.CompletedProcess[str], *messages: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    for message in messages:
        assert message in result.stderr, result.stderr
    assert HINT in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("flag", ["--version", "-v", "-V"])
def test_version(run_cli: Run, flag: str) -> None:
    result = run_cli(flag)
    assert result.returncode == 0
    assert result.stdout == f"tomodachi {__version__}\n"


@pytest.mark.parametrize("args", [[], ["-h"], ["--help"], ["run", "--help"], ["start", "-h", "app.py"]])
def test_usage(run_cli: Run, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "tomodachi run [options] <service.py ...>" in out
    for option in (
        "--production",
        "--reload",
        "--no-reload",
        "--host",
        "--port",
        "--loop",
        "--log-level",
        "--logger",
        "--custom-logger",
        "--config",
    ):
        assert option in out
    for env in (
        "TOMODACHI_PRODUCTION",
        "TOMODACHI_RELOAD",
        "TOMODACHI_HOST",
        "TOMODACHI_PORT",
        "TOMODACHI_LOOP",
        "TOMODACHI_LOG_LEVEL",
        "TOMODACHI_LOGGER",
    ):
        assert env in out
    assert out.count("$ tomodachi run") == 2
    assert f"ver {__version__}" in out


@pytest.mark.parametrize("flag", ["--dependency-versions", "--dependencies", "--deps"])
def test_dependency_versions(run_cli: Run, flag: str) -> None:
    from importlib.metadata import PackageNotFoundError, version

    result = run_cli(flag)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"aiohttp/{version('aiohttp')}"
    assert lines[1] == f"structlog/{version('structlog')}"
    for name in ("uvloop", "aio-pika", "aiobotocore", "botocore", "protobuf", "orjson", "opentelemetry-api"):
        try:
            expected = f"{name}/{version(name)}"
        except PackageNotFoundError:
            assert not any(line.startswith(f"{name}/") for line in lines)
        else:
            assert expected in lines


def test_unknown_option(run_cli: Run) -> None:
    result = run_cli("--invalid")
    assert_usage_error(
        result,
        "error: invalid command or combination of command options.",
        "error: option --invalid not recognized.",
    )
    assert "$ tomodachi --help" in result.stderr


def test_unknown_option_after_run(run_cli: Run) -> None:
    assert_usage_error(run_cli("run", "app.py", "--invalid=3"), "error: option --invalid not recognized.")


def test_option_before_run_with_service_file(run_cli: Run) -> None:
    result = run_cli("--production", "app.py")
    assert_usage_error(
        result,
        "error: the command 'run' must be specified before any options.",
        "maybe you intended to run something like this?",
        "$ tomodachi run --production app.py",
    )


def test_option_before_run_without_service_file(run_cli: Run) -> None:
    result = run_cli("--loop", "asyncio", "run")
    assert_usage_error(result, "error: the command 'run' must be specified before any options.")
    assert "maybe you intended" not in result.stderr


def test_bare_service_file(run_cli: Run) -> None:
    result = run_cli("app.py")
    assert_usage_error(
        result,
        "the command 'run' must be specified before any service files or options.",
        "$ tomodachi run app.py",
    )


def test_unknown_command(run_cli: Run) -> None:
    assert_usage_error(
        run_cli("serve", "x"),
        "the command 'run' must be specified before any service files or options.",
        "unknown command 'serve'",
    )


@pytest.mark.parametrize(
    "args",
    [["run"], ["run", "--production"], ["go", "--loop", "asyncio", "-l", "debug"], ["run", "--reload"]],
)
def test_no_service_file(run_cli: Run, args: list[str]) -> None:
    assert_usage_error(run_cli(*args), "error: no service file has been provided as argument.")


@pytest.mark.parametrize("value", ["x", "tokio"])
def test_bad_loop(run_cli: Run, value: str) -> None:
    assert_usage_error(
        run_cli("run", "app.py", "--loop", value),
        f"Invalid value for --loop option: '{value}' not recognized",
    )


def test_uvloop_requested_but_missing(run_cli: Run, tmp_path: Path, src_dir: str) -> None:
    # A module named uvloop that fails to import stands in for an environment without uvloop.
    hidden = tmp_path / "hide"
    hidden.mkdir()
    (hidden / "uvloop.py").write_text("raise ImportError('uvloop hidden by test')\n")
    result = run_cli("run", "app.py", "--loop", "uv", env={"PYTHONPATH": f"{hidden}{os.pathsep}{src_dir}"})
    assert_usage_error(result, "uvloop", "cannot be imported", "pip install tomodachi[uvloop]")


def test_bad_log_level(run_cli: Run) -> None:
    assert_usage_error(
        run_cli("run", "app.py", "--log-level", "foo"),
        "Invalid log level: 'foo' (expected 'debug', 'info', 'warning', 'error' or 'critical')",
    )


def test_bad_logger(run_cli: Run) -> None:
    assert_usage_error(
        run_cli("run", "--logger", "xml", "app.py"),
        "Invalid value for --logger option: 'xml' (expected 'json', 'console', 'python' or 'disabled')",
    )


def test_logger_custom_without_custom_logger(run_cli: Run) -> None:
    assert_usage_error(
        run_cli("run", "--logger", "custom", "app.py"), "--logger custom requires --custom-logger"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--loop"],
        ["--loop", "--production"],
        ["-l"],
        ["--log"],
        ["--log-level="],
        ["--logger"],
        ["--custom-logger"],
    ],
)
def test_missing_flag_value(run_cli: Run, args: list[str]) -> None:
    result = run_cli("run", "app.py", *args)
    flag = args[0].rstrip("=")
    assert_usage_error(result, f"Missing value for {flag} option")


def test_missing_config_value(run_cli: Run) -> None:
    assert_usage_error(run_cli("run", "app.py", "-c"), "Missing config file on command line")


def test_custom_logger_with_other_logger(run_cli: Run) -> None:
    assert_usage_error(
        run_cli("run", "app.py", "--custom-logger", "logging", "--logger", "json"),
        "Invalid combination of --custom-logger and --logger options",
    )


def test_custom_logger_not_importable(run_cli: Run) -> None:
    assert_usage_error(
        run_cli("run", "app.py", "--custom-logger", "no_such_module_xyz.factory"),
        "Invalid value for --custom-logger option:",
        "'no_such_module_xyz.factory'",
        "No module named 'no_such_module_xyz'",
    )


def test_custom_logger_not_a_factory(run_cli: Run) -> None:
    assert_usage_error(
        run_cli("run", "app.py", "--custom-logger", "json"),
        "Invalid value for --custom-logger option: 'json' is not a logger factory",
    )


def test_custom_logger_missing_attribute(run_cli: Run) -> None:
    assert_usage_error(
        run_cli("run", "app.py", "--custom-logger", "logging.no_such_factory"),
        "module 'logging' has no attribute 'no_such_factory'",
    )


def test_missing_config_file(run_cli: Run) -> None:
    assert_usage_error(run_cli("run", "-c", "missing.json", "app.py"), "Invalid config file: 'missing.json'")


def test_invalid_json_config(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    assert_usage_error(
        run_cli("run", "app.py", "--config", "bad.json"), "Invalid config file, invalid JSON format"
    )


def test_config_not_an_object(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    assert_usage_error(run_cli("run", "app.py", "-c", "list.json"), "must contain a JSON object")


# -- environment variables: same validation, the message names the variable -------------------


def test_env_bad_loop(run_cli: Run) -> None:
    result = run_cli("run", "app.py", env={"TOMODACHI_LOOP": "nope"})
    assert_usage_error(result, "Invalid value for --loop option: 'nope' not recognized", "TOMODACHI_LOOP")


def test_env_bad_log_level(run_cli: Run) -> None:
    result = run_cli("run", "app.py", env={"TOMODACHI_LOG_LEVEL": "loud"})
    assert_usage_error(result, "Invalid log level: 'loud'", "TOMODACHI_LOG_LEVEL")


def test_env_bad_logger(run_cli: Run) -> None:
    result = run_cli("run", "app.py", env={"TOMODACHI_LOGGER": "xml"})
    assert_usage_error(result, "Invalid value for --logger option: 'xml'", "TOMODACHI_LOGGER")


def test_env_custom_logger_is_not_lower_cased(run_cli: Run, tmp_path: Path) -> None:
    # The original lower-cased TOMODACHI_CUSTOM_LOGGER; module paths are case-sensitive.
    result = run_cli("run", "app.py", env={"TOMODACHI_CUSTOM_LOGGER": "NoSuchModule.Factory"})
    assert_usage_error(result, "'NoSuchModule.Factory'", "TOMODACHI_CUSTOM_LOGGER")


def test_env_custom_logger_with_env_logger_conflict(run_cli: Run) -> None:
    result = run_cli("run", "app.py", env={"TOMODACHI_CUSTOM_LOGGER": "logging", "TOMODACHI_LOGGER": "json"})
    assert_usage_error(result, "Invalid combination of --custom-logger and --logger options")


def test_flag_wins_over_env(run_cli: Run) -> None:
    # A valid flag overrides an invalid environment value, so this reaches the "no file" check.
    result = run_cli(
        "run",
        "--loop",
        "asyncio",
        "-l",
        "debug",
        "--logger",
        "json",
        env={"TOMODACHI_LOOP": "nope", "TOMODACHI_LOG_LEVEL": "nope", "TOMODACHI_LOGGER": "nope"},
    )
    assert_usage_error(result, "error: no service file has been provided as argument.")


def test_help_is_not_written_to_stderr(run_cli: Run) -> None:
    result = run_cli("--help")
    assert result.stderr == ""
