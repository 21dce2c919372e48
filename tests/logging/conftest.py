"""Every logging test starts and ends with tomodachi logging unconfigured and no context bound."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

import tomodachi.logging as tlog


@pytest.fixture(autouse=True)
def _clean_logging_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("NO_COLOR", "NOCOLOR", "TOMODACHI_NO_COLOR"):
        monkeypatch.delenv(variable, raising=False)
    tlog.remove_handlers()
    tlog.reset_context()
    yield
    tlog.remove_handlers()
    tlog.reset_context()


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


class RecordCollector(logging.Handler):
    """A real stdlib handler that keeps the records it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collector() -> Iterator[RecordCollector]:
    handler = RecordCollector()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
