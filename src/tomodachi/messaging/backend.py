"""Which broker a message transport of a service talks to: the real one, or the in-memory one."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Literal

from tomodachi.errors import ConfigurationError
from tomodachi.runtime import Runtime, runtime_of

if TYPE_CHECKING:
    from tomodachi.service import Service

__all__ = ["MEMORY", "Family", "backend_class", "runtime_of", "uses_memory_broker"]

MEMORY = "memory"
Family = Literal["amqp", "aws_sns_sqs"]


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


def backend_class(
    service: Service, runtime: Runtime, family: Family, memory: str, real: str, extra: str
) -> type[Any]:
    """Import the transport class serving *family* for *service*: ``"module:Class"`` paths.

    The real backend's dependencies are optional: a missing one is a configuration error that
    says which extra to install (or how to run on the in-memory broker instead).
    """
    path = memory if uses_memory_broker(service, runtime, family) else real
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if path == memory:
            raise
        raise ConfigurationError(
            f"@tomodachi.{family} needs the '{extra}' extra ({exc}): install it with "
            f"'pip install \"tomodachi[{extra}]\"', or run on the in-memory broker (--message-broker memory)"
        ) from None
    cls: type[Any] = getattr(module, class_name)
    return cls
