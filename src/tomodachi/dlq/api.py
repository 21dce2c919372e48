"""``inspect``, ``peek`` and ``redrive``: check the target, pick the broker module, own the connections.

Each call makes its own :class:`~tomodachi.runtime.Runtime` for the connections and clients it
needs (shared between the targets of one ``inspect``) and closes them before it returns. The
broker modules are imported on first use: ``import tomodachi.dlq`` imports neither aio-pika nor
botocore.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tomodachi.dlq.load import Source, targets
from tomodachi.dlq.model import (
    DeadLetter,
    DeadLetterError,
    DeadLetterTarget,
    DeadLetterUsageError,
    MissingQueueError,
    QueueStatus,
)

if TYPE_CHECKING:
    from tomodachi.runtime import Runtime

__all__ = ["inspect", "peek", "redrive"]

#: Bytes of each body :func:`peek` returns unless told otherwise.
BODY_BYTES = 256
_EXTRAS = {
    "amqp": ("tomodachi.dlq.rabbitmq", "amqp", "aio_pika"),
    "aws_sns_sqs": ("tomodachi.dlq.sqs", "aws", "aiobotocore"),
}


@contextlib.asynccontextmanager
async def _session() -> AsyncIterator[Runtime]:
    from tomodachi.runtime import Runtime

    runtime = Runtime()
    try:
        yield runtime
    finally:
        await runtime.aclose()


def _broker(target: DeadLetterTarget) -> ModuleType:
    module, extra, package = _EXTRAS[target.route.kind]
    try:
        __import__(package)
    except ImportError:
        raise DeadLetterError(
            f"{target.name}: {package} is not installed "
            f"(install tomodachi[{extra}] to inspect its dead letters)"
        ) from None
    import importlib

    return importlib.import_module(module)


def _problem(target: DeadLetterTarget) -> str | None:
    """Why *target* cannot be inspected on a broker (``None``: it can)."""
    route = target.route
    if route.kind not in _EXTRAS:
        return f"{target.name}: the {route.kind!r} transport is not supported by tomodachi dlq"
    if target.broker == "memory":
        section = "amqp" if route.kind == "amqp" else "aws_sns_sqs"
        return (
            f"{target.name} runs on the in-memory broker ({section}.broker = 'memory'): its dead letters "
            "live in the process that runs it (see tomodachi.testing)"
        )
    if route.dead_letter_queue is None:
        if route.dead_letter_exchange:
            return (
                f"{target.name} dead-letters to the exchange {route.dead_letter_exchange!r}: inspect the "
                "queue you bound to it (DeadLetterTarget with a route naming that queue)"
            )
        return f"{target.name} has no dead-letter queue: its failed messages are dropped (and logged)"
    return None


def _usable(target: DeadLetterTarget) -> tuple[ModuleType, str]:
    problem = _problem(target)
    if problem is not None:
        raise DeadLetterUsageError(problem)
    assert target.route.dead_letter_queue is not None
    return _broker(target), target.route.dead_letter_queue


async def inspect(
    sources: Source | DeadLetterTarget | Iterable[Source | DeadLetterTarget],
    *,
    config: Mapping[str, Any] | None = None,
) -> list[QueueStatus]:
    """How many messages each handler's dead-letter queue holds, one :class:`QueueStatus` per handler.

    *sources* are service files, service classes or :class:`DeadLetterTarget` objects (or a list
    of them). Handlers without a dead-letter queue, on the in-memory broker, or whose queue does
    not exist yet get ``messages=None`` and a ``note``. Raises :class:`DeadLetterError` when a
    broker cannot be reached.
    """
    items = list(sources) if isinstance(sources, Iterable) and not isinstance(sources, str) else [sources]
    resolved: list[DeadLetterTarget] = []
    files: list[Source] = []
    for item in items:
        if isinstance(item, DeadLetterTarget):
            resolved.extend(await targets(files, config=config) if files else [])
            files = []
            resolved.append(item)
        else:
            files.append(item)
    if files:
        resolved.extend(await targets(files, config=config))
    statuses: list[QueueStatus] = []
    async with _session() as runtime:
        for target in resolved:
            problem = _problem(target)
            if problem is not None:
                statuses.append(QueueStatus(target, None, note=_short_note(target)))
                continue
            module, queue = _usable(target)
            status: QueueStatus = await module.count(runtime, target, queue)
            if not status.exists and target.hint:
                status = dataclasses.replace(status, note=f"{status.note} ({target.hint})")
            statuses.append(status)
    return statuses


def _short_note(target: DeadLetterTarget) -> str:
    route = target.route
    if route.kind not in _EXTRAS:
        return f"{route.kind}: not supported"
    if target.broker == "memory":
        return "in-memory broker"
    if route.dead_letter_exchange:
        return f"to exchange {route.dead_letter_exchange!r}"
    return "no dead-letter queue: failed messages are dropped"


async def peek(
    target: DeadLetterTarget, limit: int = 10, *, body_bytes: int = BODY_BYTES
) -> list[DeadLetter]:
    """Up to *limit* messages of *target*'s dead-letter queue, left in the queue.

    RabbitMQ returns them in queue order; SQS as it returns them (in order within a FIFO group).

    RabbitMQ: fetched unacknowledged and returned to their places at once. SQS: received and made
    visible again at once; **peeking counts as a receive** (``ApproximateReceiveCount`` grows).
    """
    if limit < 1:
        raise DeadLetterUsageError(f"limit must be at least 1, got {limit}")
    module, queue = _usable(target)
    with _hinted(target):
        async with _session() as runtime:
            result: list[DeadLetter] = await module.peek(runtime, target, queue, limit, body_bytes)
            return result


async def redrive(target: DeadLetterTarget, limit: int | None = None) -> int:
    """Move up to *limit* messages (default: all it held when it began) back to the handler's queue.

    Each message is removed from the dead-letter queue only after the broker accepted its copy
    (RabbitMQ: publisher confirm; SQS: ``SendMessage`` returned). Returns how many were moved;
    stops at the first failure with :class:`RedriveError` (its ``moved`` says how many were moved
    before), so a message is never lost (at worst, when only the removal failed, it is in both).
    """
    if limit is not None and limit < 1:
        raise DeadLetterUsageError(f"limit must be at least 1, got {limit}")
    module, queue = _usable(target)
    with _hinted(target):
        async with _session() as runtime:
            moved: int = await module.redrive(runtime, target, queue, limit)
            return moved


@contextlib.contextmanager
def _hinted(target: DeadLetterTarget) -> Iterator[None]:
    """A missing queue of a service without a fixed uuid: say why that may be."""
    try:
        yield
    except MissingQueueError as exc:
        if not target.hint:
            raise
        raise MissingQueueError(f"{exc} ({target.hint})") from None
