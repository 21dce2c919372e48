"""Option sections declared by transports: ``register_section("redis", RedisOptions)``.

A registered section is part of every :class:`~tomodachi.options.Options` like a built-in one:
``Options(redis={...})``, ``options.redis.url``, ``options["redis.url"]``, ``--config`` files,
``asdict()``, ``repr()`` (secrets masked) and the "did you mean" error for an unknown key. The
registry is process-wide, like the decorators that declare entrypoints: a transport registers its
section when its module is imported.
"""

from __future__ import annotations

from typing import Final

from tomodachi.errors import ConfigurationError

from ._base import OptionsInterface, _Field
from ._legacy import LEGACY_KEYS, LEGACY_PREFIXES

__all__ = ["register_section", "registered_sections"]

#: name -> the field of a registered section; read by ``Options``.
REGISTERED: Final[dict[str, _Field]] = {}


def register_section(name: str, section: type[OptionsInterface]) -> None:
    """Make *section* (an :class:`~tomodachi.options.OptionsInterface` subclass) the option
    section *name* of every ``Options``, also of those created before this call.

    Call it when your transport's module is imported, so that a service file that imports your
    decorator can use the section in its ``options``. The section class's ``_prefix`` (and that of
    its nested sections) is set to *name* (``name.key``) when left empty. Registering the same class
    again does nothing; a class of the same module and name replaces it (a reloaded module); any
    other class for a taken name raises ``ConfigurationError``, as does a name that is a built-in
    section, a key or an attribute of ``Options``.
    """
    from .definitions import Options

    if not isinstance(section, type) or not issubclass(section, OptionsInterface) or section is Options:
        raise ConfigurationError(f"register_section({name!r}, ...): expected an OptionsInterface subclass")
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ConfigurationError(f"register_section({name!r}, ...): the name must be an identifier")
    if name in Options._fields or hasattr(Options, name) or name in LEGACY_PREFIXES or name in LEGACY_KEYS:
        raise ConfigurationError(f"register_section({name!r}, ...): '{name}' is a built-in option name")
    current = REGISTERED.get(name)
    if current is not None and current.section is not section:
        old = current.section
        if old is None or (old.__module__, old.__qualname__) != (section.__module__, section.__qualname__):
            where = f"{old.__module__}.{old.__qualname__}" if old is not None else "?"
            raise ConfigurationError(f"Option section '{name}' is already registered by {where}")
    _assign_prefix(section, name)
    REGISTERED[name] = _Field(None, None, section)


def registered_sections() -> dict[str, type[OptionsInterface]]:
    """The registered sections by name, in registration order."""
    return {name: field.section for name, field in REGISTERED.items() if field.section is not None}


def _assign_prefix(section: type[OptionsInterface], prefix: str) -> None:
    if not section._prefix:
        section._prefix = prefix
    elif section._prefix != prefix:
        raise ConfigurationError(
            f"Option section {section.__qualname__} has the prefix '{section._prefix}', not '{prefix}'"
        )
    for key, field in section._fields.items():
        if field.section is not None:
            _assign_prefix(field.section, f"{prefix}.{key}")
