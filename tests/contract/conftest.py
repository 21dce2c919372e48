"""The message-transport contract: one suite, run against every backend of a family.

A backend is a fixture named ``amqp_backend_<name>`` or ``sns_sqs_backend_<name>`` returning a
:class:`Backend`; the in-memory ones are defined here, the real brokers' in
``_backend_<name>.py`` files next to this one (their fixtures are imported below). Tests only
use the public decorators and publish functions, and observe what handlers received.
"""

from __future__ import annotations

import asyncio
import importlib
import pathlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

AMQP_BACKENDS = ["memory"]
SNS_SQS_BACKENDS = ["memory"]

# Real-broker backends register themselves: each _backend_<name>.py defines its fixture and
# appends its name to AMQP_BACKENDS or SNS_SQS_BACKENDS.
for _path in sorted(pathlib.Path(__file__).parent.glob("_backend_*.py")):
    _module = importlib.import_module(_path.stem)
    _name = _path.stem.removeprefix("_backend_")
    globals().update({k: v for k, v in vars(_module).items() if k.endswith(f"_backend_{_name}")})
    AMQP_BACKENDS.extend(getattr(_module, "AMQP", []))
    SNS_SQS_BACKENDS.extend(getattr(_module, "SNS_SQS", []))


@dataclass
class Backend:
    """How to run services on one backend."""

    name: str
    #: Options every service of a test gets (endpoints, unique prefixes for isolation).
    options: dict[str, Any] = field(default_factory=dict)
    #: ``"memory"`` for the in-memory broker, ``None`` to follow the options (real brokers).
    message_broker: str | None = None


@pytest.fixture
def amqp_backend_memory() -> Backend:
    return Backend("memory", {}, "memory")


@pytest.fixture
def sns_sqs_backend_memory() -> Backend:
    return Backend("memory", {}, "memory")


@pytest.fixture(params=AMQP_BACKENDS)
def amqp_backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(f"amqp_backend_{request.param}")
    return backend


@pytest.fixture(params=SNS_SQS_BACKENDS)
def sns_sqs_backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(f"sns_sqs_backend_{request.param}")
    return backend


@pytest.fixture
def unique() -> str:
    """A short unique name part, so tests on a shared real broker never see each other's messages."""
    return uuid.uuid4().hex[:10]


class Inbox:
    """What handlers received, with waiting by deadline (no blind sleeps)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 10.0) -> list[Any]:  # noqa: ASYNC109
        async def wait() -> None:
            while not predicate(self.items):
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"condition not met within {timeout} s; received: {self.items!r}") from None
        return self.items

    async def wait_count(self, count: int, timeout: float = 10.0) -> list[Any]:  # noqa: ASYNC109
        return await self.wait_for(lambda items: len(items) >= count, timeout)

    async def stays(self, count: int, seconds: float) -> None:
        """Assert that no more than *count* items arrive within *seconds* (for "not redelivered")."""
        try:
            await asyncio.wait_for(self.wait_for(lambda items: len(items) > count, seconds + 1), seconds)
        except (TimeoutError, AssertionError):
            pass
        assert len(self.items) == count, self.items


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()
