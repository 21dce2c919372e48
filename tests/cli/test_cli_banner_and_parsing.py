"""In-process checks of the banner and of argument parsing details (no subprocess needed)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tomodachi.__version__ import __version__
from tomodachi.banner import render_banner, use_color
from tomodachi.cli._parse import UsageError, merge_config, parse_run_arguments


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_banner_lines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    text = render_banner(
        ["app.py"], "asyncio", command="tomodachi run app.py", pid=42, environ={"HOSTNAME": "box"}
    )
    lines = text.splitlines()
    assert lines[0].startswith("▀█▀")
    assert "process [pid: 42]      ⇢ $ tomodachi run app.py" in lines
    assert "service file           ⇢ ./app.py" in lines
    assert any(line.startswith("operating system       ⇢ ") and "(hostname: box)" in line for line in lines)
    assert any(line.startswith("python runtime         ⇢ ") for line in lines)
    assert f"tomodachi version      ⇢ {__version__} (local development version)" in lines
    assert "event loop             ⇢ asyncio" in lines
    assert lines[-1] == "⌁ [notice ] stop running services with <ctrl+c> (graceful teardown)"
    assert "watcher" not in text
    assert "\033[" not in text


def test_banner_virtualenv_from_environment() -> None:
    text = render_banner(["app.py"], "asyncio", environ={"VIRTUAL_ENV": "/some/venv", "HOSTNAME": "h"})
    assert "virtualenv path        ⇢ /some/venv" in text


def test_banner_several_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    text = render_banner(["a.py", "sub/b.py", "/elsewhere/c.py"], "asyncio", environ={})
    assert "service file [3]       ⇢ ./a.py" in text
    assert f"                         .{os.sep}sub{os.sep}b.py" in text
    assert "/elsewhere/c.py" in text


def test_banner_colour() -> None:
    assert "\033[" in render_banner(["app.py"], "asyncio", color=True, environ={})


@pytest.mark.parametrize(
    ("environ", "tty", "expected"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"TOMODACHI_NO_COLOR": "true"}, True, False),
        ({"NO_COLOR": ""}, True, True),
        ({"TOMODACHI_NO_COLOR": "0"}, True, True),
    ],
)
def test_use_color(environ: dict[str, str], tty: bool, expected: bool) -> None:
    stream = _Tty() if tty else io.StringIO()
    assert use_color(stream, environ) is expected


def test_merge_config() -> None:
    merged = merge_config(
        {"a": {"x": 1, "l": [1]}, "s": "old", "keep": True},
        {"a": {"y": 2, "l": [2]}, "s": "new", "n": None},
    )
    assert merged == {"a": {"x": 1, "y": 2, "l": [1, 2]}, "s": "new", "keep": True, "n": None}


def test_parse_flags_anywhere_and_dedup() -> None:
    parsed = parse_run_arguments(
        ["b.py", "--loop=aio", "a.py", "--log", "DEBUG", "./b.py", "--production", "--", "--odd.py"],
        environ={},
    )
    assert parsed.files == ["b.py", "a.py", "--odd.py"]
    assert (parsed.loop, parsed.log_level, parsed.production, parsed.logger) == (
        "asyncio",
        "debug",
        True,
        "console",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("yes", True), ("", False), ("0", False), ("No", False), ("none", False), ("OFF", False)],
)
def test_production_env_values(value: str, expected: bool) -> None:
    assert parse_run_arguments(["a.py"], environ={"TOMODACHI_PRODUCTION": value}).production is expected


def test_loop_aliases() -> None:
    for value, loop in (("default", "auto"), ("auto", "auto"), ("async", "asyncio"), ("ASYNCIO", "asyncio")):
        assert parse_run_arguments(["a.py", "--loop", value], environ={}).loop == loop


def test_custom_logger_env_yields_to_logger_flag() -> None:
    parsed = parse_run_arguments(["a.py", "--logger", "json"], environ={"TOMODACHI_CUSTOM_LOGGER": "logging"})
    assert (parsed.logger, parsed.custom_logger) == ("json", None)
    parsed = parse_run_arguments(["a.py", "--custom-logger", "logging"], environ={"TOMODACHI_LOGGER": "json"})
    assert (parsed.logger, parsed.custom_logger) == ("custom", "logging")
    parsed = parse_run_arguments(["a.py", "--custom-logger", "logging", "--logger", "custom"], environ={})
    assert (parsed.logger, parsed.custom_logger) == ("custom", "logging")


def test_config_flag_takes_json_files_then_service_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"v": [1]}')
    (tmp_path / "b.json").write_text('{"v": [2]}')
    parsed = parse_run_arguments(
        ["-c", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "service.py"], environ={}
    )
    assert parsed.files == ["service.py"]
    assert parsed.config == {"v": [1, 2]}


def test_production_takes_no_value() -> None:
    with pytest.raises(UsageError, match="does not take a value"):
        parse_run_arguments(["a.py", "--production=yes"], environ={})


def test_message_broker_flag_and_environment() -> None:
    assert parse_run_arguments(["a.py"], environ={}).message_broker is None
    assert parse_run_arguments(["a.py", "--message-broker", "memory"], environ={}).message_broker == "memory"
    assert (
        parse_run_arguments(["a.py"], environ={"TOMODACHI_MESSAGE_BROKER": "MEMORY"}).message_broker
        == "memory"
    )
    flag_wins = parse_run_arguments(
        ["a.py", "--message-broker", "default"], environ={"TOMODACHI_MESSAGE_BROKER": "memory"}
    )
    assert flag_wins.message_broker is None
    with pytest.raises(UsageError, match="--message-broker option: 'kafka' not recognized"):
        parse_run_arguments(["a.py", "--message-broker", "kafka"], environ={})
