"""Entrypoints: what a decorator attaches to a handler, and their discovery on a class.

A decorator only *declares*: it records an :class:`Entrypoint` on the function and returns
the function itself, so the method stays directly callable (``await service.handler(...)``)
and decorators stack. The container later reads the declarations from the class ``__dict__``
in definition order and hands each one to the transport that owns it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tomodachi.transport.base import Transport

__all__ = ["ENTRYPOINTS_ATTRIBUTE", "Entrypoint", "declare", "discover_entrypoints"]

ENTRYPOINTS_ATTRIBUTE = "__tomodachi_entrypoints__"

F = TypeVar("F", bound=Callable[..., Any])

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Entrypoint:
    """An immutable declaration: "call this handler when *transport* sees *args*/*kwargs*"."""

    transport: type[Transport]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __repr__(self) -> str:
        params = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"<Entrypoint {self.transport.__name__}({', '.join(params)})>"


def declare(transport: type[Transport], *args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Return a decorator that declares an entrypoint of *transport* on a function.

    This is the building block of every built-in decorator and of custom ones::

        def tick(seconds: float):
            return tomodachi.declare(TickTransport, seconds)
    """
    entrypoint = Entrypoint(transport, args, MappingProxyType(dict(kwargs)) if kwargs else _EMPTY)

    def decorate(func: F) -> F:
        target: Any = func
        if isinstance(target, (staticmethod, classmethod)):
            raise TypeError("tomodachi handlers must be plain methods, not static or class methods")
        if not callable(target):
            raise TypeError(f"cannot declare a tomodachi entrypoint on {target!r}: it is not callable")
        existing: tuple[Entrypoint, ...] = getattr(target, ENTRYPOINTS_ATTRIBUTE, ())
        # A new tuple each time: a function shared between classes never sees later additions.
        setattr(target, ENTRYPOINTS_ATTRIBUTE, (*existing, entrypoint))
        return func

    return decorate


def entrypoints_of(value: object) -> tuple[Entrypoint, ...]:
    """The entrypoints declared on one class attribute (empty for anything else)."""
    found = getattr(value, ENTRYPOINTS_ATTRIBUTE, ())
    return found if isinstance(found, tuple) else ()


def discover_entrypoints(cls: type) -> list[tuple[str, Entrypoint]]:
    """All ``(attribute name, entrypoint)`` pairs of a class, in definition order.

    Base classes come first; a method overridden in a subclass keeps its base position but
    uses the subclass's declarations. No source files are read.
    """
    members: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            members[name] = value
    return [(name, ep) for name, value in members.items() for ep in entrypoints_of(value)]
