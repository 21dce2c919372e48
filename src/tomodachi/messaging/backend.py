"""Which broker a message transport of a service talks to: the real one, or the in-memory one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tomodachi.runtime import Runtime, current_runtime

if TYPE_CHECKING:
    from tomodachi.service import Service

__all__ = ["MEMORY", "Family", "runtime_of", "uses_memory_broker"]

MEMORY = "memory"
Family = Literal["amqp", "aws_sns_sqs"]


def runtime_of(service: object) -> Runtime:
    """The run *service* belongs to (the current one); a publish outside any run is a mistake."""
    runtime = getattr(service, "_tomodachi_runtime", None) or current_runtime()
    if runtime is None:
        from tomodachi.errors import TomodachiError

        raise TomodachiError(
            "no tomodachi run is active: publish from a running service (or inside tomodachi.testing)"
        )
    return runtime


def uses_memory_broker(service: Service, runtime: Runtime, family: Family) -> bool:
    """True when *service*'s *family* transport runs on the in-memory broker.

    ``--message-broker memory`` (``runtime.message_broker``) switches every service of the run;
    otherwise the ``amqp.broker`` / ``aws_sns_sqs.broker`` option of the service decides.
    """
    if runtime.message_broker == MEMORY:
        return True
    options = getattr(service, "options", None)
    if options is None:
        return False
    section = options.amqp if family == "amqp" else options.aws_sns_sqs
    return bool(section.broker == MEMORY)
