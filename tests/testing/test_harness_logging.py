"""``tomodachi.testing`` puts back the logging configuration it found when a run ends."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

import tomodachi
import tomodachi.logging as tlog
from tomodachi.logging.config import current_settings
from tomodachi.testing import run_services


class Greeter(tomodachi.Service):
    name = "greeter"

    async def _started_service(self) -> None:
        tlog.get_logger("greeter").info("hello from the run")


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    tlog.remove_handlers()
    tlog.reset_context()
    yield
    tlog.remove_handlers()
    tlog.reset_context()


@pytest.mark.parametrize("capture_logs", [True, False])
async def test_a_callers_tomodachi_logging_configuration_is_kept(capture_logs: bool) -> None:
    stream = io.StringIO()
    tlog.configure("json", "warning", stream=stream)
    settings, root = current_settings(), logging.getLogger()
    handlers, level = list(root.handlers), root.level

    async with run_services(Greeter, capture_logs=capture_logs) as app:
        if capture_logs:
            assert any(record.get("message") == "hello from the run" for record in app.logs)

    assert current_settings() is settings
    assert (root.handlers, root.level) == (handlers, level)
    tlog.get_logger("caller").warning("after the run")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines if line["message"] == "after the run"] == ["after the run"]


async def test_a_callers_stdlib_root_handler_and_level_are_kept() -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    mine = logging.StreamHandler(stream)
    handlers, level = list(root.handlers), root.level
    root.addHandler(mine)
    root.setLevel(logging.ERROR)
    try:
        async with run_services(Greeter):
            assert root.level != logging.ERROR  # the run configured logging for itself

        assert root.handlers == [*handlers, mine]
        assert root.level == logging.ERROR
        logging.getLogger("caller").error("still mine")
        assert "still mine" in stream.getvalue()
    finally:
        root.removeHandler(mine)
        root.setLevel(level)


async def test_context_bound_before_the_run_is_kept() -> None:
    tlog.configure("json", "info", stream=io.StringIO())
    bound = tlog.get_logger("caller").bind(request_id="r-1")
    tlog.bind_logger(bound)
    assert tlog.get_logger() is bound
    async with run_services(Greeter):
        pass
    assert tlog.get_logger() is bound
