"""Which broker a message transport of a service talks to: the real one, or the in-memory one.

Every message family (``amqp``, ``aws_sns_sqs``, a custom transport's ``redis``) registers itself
once with :func:`register_message_family`, naming the option that switches it to the in-memory
broker; its transport then asks :func:`uses_memory_broker` and picks its backend in one place.
``--message-broker memory`` and ``tomodachi.testing`` (``message_broker="memory"``) switch every
registered family of the run at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from tomodachi.errors import ConfigurationError, TomodachiError
from tomodachi.runtime import Runtime, runtime_of

if TYPE_CHECKING:
    from tomodachi.service import Service

__all__ = [
    "MEMORY",
    "MessageFamily",
    "backend_class",
    "memory_model",
    "message_families",
    "register_message_family",
    "runtime_of",
    "uses_memory_broker",
]

T = TypeVar("T")

#: The value of ``--message-broker`` and of a family's broker option that selects the in-memory broker.
MEMORY: Final = "memory"


@dataclass(frozen=True, slots=True)
class MessageFamily:
    """A kind of message transport that can run on the real broker or in memory."""

    name: str
    """The family's name (``"amqp"``, ``"aws_sns_sqs"``, ``"redis"``): in messages and resource keys."""
    broker_option: str
    """The dotted option key whose value ``"memory"`` runs the family in memory (``"amqp.broker"``)."""


_FAMILIES: dict[str, MessageFamily] = {}


def register_message_family(name: str, *, broker_option: str) -> MessageFamily:
    """Tell the kit about a message family: its *name* and the option that says ``"memory"``.

    Call it at import of the transport's module (after registering the option section that holds
    *broker_option*). Registering the same name and option again returns the same family; the
    same name with another option raises ``ConfigurationError``.
    """
    family = MessageFamily(name, broker_option)
    current = _FAMILIES.setdefault(name, family)
    if current != family:
        raise ConfigurationError(
            f"Message family '{name}' is already registered with the option '{current.broker_option}'"
        )
    return current


def message_families() -> dict[str, MessageFamily]:
    """The registered message families by name, in registration order."""
    return dict(_FAMILIES)


def _family(family: MessageFamily | str) -> MessageFamily:
    if isinstance(family, MessageFamily):
        return family
    found = _FAMILIES.get(family)
    if found is None:
        raise TomodachiError(f"Unknown message family {family!r} (see register_message_family)")
    return found


def uses_memory_broker(service: Service, runtime: Runtime, family: MessageFamily | str) -> bool:
    """True when *service*'s transport of *family* runs on the in-memory broker.

    ``--message-broker memory`` (``runtime.message_broker``) switches every family of the run;
    otherwise the family's broker option of the service decides (``amqp.broker = "memory"``).
    """
    if runtime.message_broker == MEMORY:
        return True
    options = getattr(service, "options", None)
    if options is None:
        return False
    return str(options[_family(family).broker_option]).lower() == MEMORY


def memory_model(
    runtime: Runtime,
    family: MessageFamily | str,
    factory: Callable[[], T],
    close: Callable[[T], Awaitable[None]] | None = None,
) -> T:
    """The in-memory model of *family* for *runtime*: one per run, shared by its services.

    ``runtime.resource(("tomodachi.memory", name), factory, close)``: created on first use and
    closed once when the run ends, so services of one run exchange messages through it.
    """
    name = family.name if isinstance(family, MessageFamily) else family
    return runtime.resource(("tomodachi.memory", name), factory, close)


def backend_class(
    service: Service, runtime: Runtime, family: MessageFamily | str, memory: str, real: str, extra: str
) -> type[Any]:
    """Import the class serving *family* for *service*: ``"module:Class"`` paths.

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
        name = _family(family).name
        raise ConfigurationError(
            f"@tomodachi.{name} needs the '{extra}' extra ({exc}): install it with "
            f"'pip install \"tomodachi[{extra}]\"', or run on the in-memory broker (--message-broker memory)"
        ) from None
    cls: type[Any] = getattr(module, class_name)
    return cls
