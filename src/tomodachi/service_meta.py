"""The class-level names of the original: ``TOMODACHI_CLASSES``, ``CLASS_ATTRIBUTE``,
``TomodachiServiceMeta``.

Our :class:`~tomodachi.Service` has no metaclass; ``Service.__init_subclass__`` calls
:func:`register_service_class` for every subclass. Which classes a service file starts is
decided by :func:`tomodachi.importer.service_classes`, not by the marker attribute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tomodachi.service import Service

__all__ = ["CLASS_ATTRIBUTE", "TOMODACHI_CLASSES", "TomodachiServiceMeta", "register_service_class"]

#: Marker attribute: ``True`` on a service class that no other service class subclasses (yet).
CLASS_ATTRIBUTE = "_tomodachi_class_is_service_class"

#: Every subclass of ``tomodachi.Service`` defined in the process, in definition order.
TOMODACHI_CLASSES: list[type[Service]] = []


def register_service_class(cls: type[Service]) -> None:
    """Mark *cls* as a service class, unmark its direct bases, record it in ``TOMODACHI_CLASSES``.

    As in the original, a service class that is subclassed loses the marker: it is a base.
    """
    setattr(cls, CLASS_ATTRIBUTE, True)
    for base in cls.__bases__:
        if CLASS_ATTRIBUTE in vars(base):
            delattr(base, CLASS_ATTRIBUTE)
    TOMODACHI_CLASSES.append(cls)


class _ServiceClassCheck(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        from tomodachi.service import Service

        return isinstance(instance, type) and issubclass(instance, Service)


class TomodachiServiceMeta(type, metaclass=_ServiceClassCheck):
    """Stand-in for the original's metaclass of ``Service``; our ``Service`` has none.

    * ``isinstance(cls, TomodachiServiceMeta)`` is true exactly for subclasses of
      ``tomodachi.Service`` (what the original's check meant);
    * ``class MyService(metaclass=TomodachiServiceMeta)`` creates a subclass of
      ``tomodachi.Service`` (``Service`` is added to the bases when missing).

    It is not ``type(tomodachi.Service)`` (that is ``type`` itself, which every class is an
    instance of).
    """

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> type[Service]:
        from tomodachi.service import Service

        if not any(issubclass(base, Service) for base in bases):
            bases = (*bases, Service)
        cls: type[Service] = type(name, bases, dict(namespace), **kwargs)
        return cls
