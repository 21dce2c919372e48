"""The message-transport contract: one suite, run against every backend of a family.

A backend is a fixture named ``amqp_backend_<name>``, ``sns_sqs_backend_<name>`` or
``redis_backend_<name>`` returning a :class:`Backend`. The in-memory ones are defined here; the
real brokers' are pytest plugins (``_backend_<name>.py`` next to this file, listed in
``pytest_plugins`` of ``tests/conftest.py``),
each naming its backends in ``CONTRACT_BACKENDS`` (family -> ``pytest.param(name, marks=...)``, the
mark being its broker's). Tests only use the public decorators and publish functions, and observe
what handlers received.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.contract.contract_support import Backend, Inbox

FAMILIES = ("amqp", "sns_sqs", "redis")


def _backends(config: pytest.Config, family: str) -> list[Any]:
    """The in-memory backend of *family*, then those of the registered backend plugins."""
    found = [pytest.param("memory")]
    for plugin in config.pluginmanager.get_plugins():
        found.extend(getattr(plugin, "CONTRACT_BACKENDS", {}).get(family, []))
    return sorted(found, key=lambda param: (param.values[0] != "memory", str(param.values[0])))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for family in FAMILIES:
        if f"{family}_backend" in metafunc.fixturenames:
            metafunc.parametrize(f"{family}_backend", _backends(metafunc.config, family), indirect=True)


@pytest.fixture
def amqp_backend_memory() -> Backend:
    return Backend("memory", {}, "memory")


@pytest.fixture
def sns_sqs_backend_memory() -> Backend:
    return Backend("memory", {}, "memory")


@pytest.fixture
def redis_backend_memory() -> Backend:
    return Backend("memory", {"redis.poll_interval": 0.1, "redis.claim_idle": 1.0}, "memory")


@pytest.fixture
def amqp_backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(f"amqp_backend_{request.param}")
    return backend


@pytest.fixture
def sns_sqs_backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(f"sns_sqs_backend_{request.param}")
    return backend


@pytest.fixture
def redis_backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(f"redis_backend_{request.param}")
    return backend


@pytest.fixture
def unique() -> str:
    """A short unique name part, so tests on a shared real broker never see each other's messages."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()
