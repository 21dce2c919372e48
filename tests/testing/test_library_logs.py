"""Broker client libraries' debug logs stay out of a test's output unless asked for."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.testing.test_outcomes_on_brokers import AmqpWorker, SnsSqsWorker
from tomodachi.testing import run_services
from tomodachi.testing.library_logs import LIBRARY_LOGGERS


def _library_lines(records: list[logging.LogRecord], prefixes: tuple[str, ...]) -> list[str]:
    return [r.name for r in records if r.name.startswith(prefixes) and r.levelno < logging.WARNING]


@pytest.mark.rabbitmq
@pytest.mark.parametrize("library_log_level", ["warning", "debug"])
async def test_aiormq_debug_lines_only_when_asked(
    library_log_level: str, rabbitmq_options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    before = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    async with run_services(
        AmqpWorker, options=rabbitmq_options, message_broker=None, library_log_level=library_log_level
    ) as app:
        report = await (await app.publish_amqp("work.do", {"id": "log", "fail": "no"})).outcome(timeout=15)
        assert report.handled
        captured = [
            r["logger"] for r in app.logs if str(r.get("logger", "")).startswith(("aiormq", "aio_pika"))
        ]
    shown = _library_lines(caplog.records, ("aiormq", "aio_pika"))
    if library_log_level == "warning":
        assert shown == [] and captured == []
    else:
        assert shown and captured  # pytest's capture and app.logs both have them
    assert {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS} == before


@pytest.mark.aws
async def test_botocore_debug_lines_are_kept_out_by_default(
    aws_options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with run_services(SnsSqsWorker, options=aws_options, message_broker=None) as app:
        assert (await (await app.publish("work-do", {"id": "log", "fail": "no"})).outcome(timeout=20)).handled
    assert _library_lines(caplog.records, ("botocore", "aiobotocore", "urllib3")) == []


async def test_none_leaves_the_library_loggers_alone() -> None:
    logger = logging.getLogger("aiormq")
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        async with run_services(AmqpWorker, library_log_level=None):
            assert logger.level == logging.INFO
        async with run_services(AmqpWorker):
            assert logger.level == logging.WARNING
        assert logger.level == logging.INFO
    finally:
        logger.setLevel(previous)
