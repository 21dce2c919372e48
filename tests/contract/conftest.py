"""The message-transport contract: one suite, run against every backend of a family.

A backend is a fixture named ``amqp_backend_<name>`` or ``sns_sqs_backend_<name>`` returning a
:class:`Backend`; the in-memory ones are defined here, the real brokers' in
``_backend_<name>.py`` files next to this one (their fixtures are imported below). Tests only
use the public decorators and publish functions, and observe what handlers received.
"""

from __future__ import annotations

import importlib
import pathlib
import uuid

import pytest
from contract_support import Backend, Inbox

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


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()
