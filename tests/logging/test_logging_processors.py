"""Secret masking, extra processors, structlog's DropEvent, failures inside a log call."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

import tomodachi.logging as tlog
from tomodachi.logging.processors import is_secret_key

SECRET_KEYS = [
    "password",
    "db_password",
    "Password",
    "secret",
    "client_secret",
    "token",
    "X-Auth-Token",
    "access_token",
    "authorization",
    "Authorization",
    "aws_secret_access_key",
    "AWS_SECRET_ACCESS_KEY",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["user", "status_code", "request_path", "passage", "sec", 42])
def test_plain_keys(key: Any) -> None:
    assert not is_secret_key(key)


def test_secrets_masked_in_console(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    tlog.get_logger("x").bind(**{"Authorization": "Bearer abc"}).info(
        "login", user="u", password="hunter2", api_token=None
    )
    assert stream.getvalue().rstrip("\n").endswith("[x] Authorization=*** user=u password=*** api_token=***")
    assert "hunter2" not in stream.getvalue() and "Bearer" not in stream.getvalue()


def test_secrets_masked_in_json_and_stdlib_extra(stream: io.StringIO) -> None:
    tlog.configure("json", stream=stream)
    tlog.get_logger("x").info("login", aws_secret_access_key="AKIA...", client_secret="s", user="u")
    logging.getLogger("lib").info("stdlib", extra={"token": "t", "peer": "p"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["aws_secret_access_key"], first["client_secret"], first["user"]) == ("***", "***", "u")
    assert second["extra"] == {"token": "***", "peer": "p"}


def test_ellipsis_on_a_secret_key_still_hides_it(stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream, color=False)
    tlog.get_logger("x").info("hidden", password=...)
    assert stream.getvalue().rstrip("\n").endswith("[x]")


def test_extra_processors_run_before_masking(stream: io.StringIO) -> None:
    def add_trace(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict["trace_id"] = "abc"
        event_dict["session_token"] = "leaked?"
        event_dict["seen"] = f"{logger.name}/{method_name}"
        return event_dict

    tlog.configure("json", stream=stream, processors=[add_trace])
    tlog.get_logger("x").warning("traced")
    logging.getLogger("lib").error("stdlib traced")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["trace_id"], first["session_token"], first["seen"]) == ("abc", "***", "x/warning")
    assert (second["trace_id"], second["seen"]) == ("abc", "lib/error")


def test_structlog_drop_event(stream: io.StringIO) -> None:
    structlog = pytest.importorskip("structlog")

    def drop_debug_noise(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if event_dict.get("noise") or event_dict.get("extra", {}).get("noise"):
            raise structlog.DropEvent
        return event_dict

    tlog.configure("console", stream=stream, color=False, processors=[drop_debug_noise])
    tlog.get_logger("x").info("dropped", noise=True)
    logging.getLogger("lib").info("dropped too", extra={"noise": True})
    tlog.get_logger("x").info("kept")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "kept" in lines[0]


def test_a_broken_log_call_does_not_raise(capsys: pytest.CaptureFixture[str], stream: io.StringIO) -> None:
    tlog.configure("console", stream=stream)
    tlog.get_logger("x").info("%d sheep", "not a number")  # bad interpolation: reported, not raised
    err = capsys.readouterr().err
    assert err.startswith("--- Logging error ---")
    assert "TypeError" in err
    tlog.get_logger("x").info("still working")
    assert "still working" in stream.getvalue()


def test_unrepresentable_value_does_not_raise(
    capsys: pytest.CaptureFixture[str], stream: io.StringIO
) -> None:
    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    tlog.configure("console", stream=stream)
    tlog.get_logger("x").info("bad value", value=BadRepr())
    assert "--- Logging error ---" in capsys.readouterr().err
