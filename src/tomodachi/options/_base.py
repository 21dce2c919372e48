"""The machinery shared by every options section: fields, key resolution, access styles, repr.

A section class declares its keys as annotated class attributes whose value is ``option(default,
check)`` (or ``subsection(Cls)`` for a nested section). The metaclass turns those into ``__slots__``
and a ``_fields`` table, so that instances are small, typed for mypy, and reject unknown names.
Sections a transport registers (:func:`tomodachi.options.register_section`) are not slots of
``Options``: ``Options`` reaches every field through ``_field_table``/``_value``/``_store``.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self, TypeVar, cast

from tomodachi.errors import ConfigurationError, InvalidOptionError

from ._legacy import LEGACY_KEYS, LEGACY_PREFIXES
from .checks import MASKED, Check, invalid, secret_invalid

T = TypeVar("T")
S = TypeVar("S", bound="OptionsInterface")


class _DefaultType:
    """Type of :data:`DEFAULT`, the "argument not given" sentinel (``None`` is a valid value)."""

    __slots__ = ()
    _instance: ClassVar[_DefaultType | None] = None

    def __new__(cls) -> _DefaultType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFAULT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "DEFAULT"


DEFAULT: Final[Any] = _DefaultType()


class _Field:
    __slots__ = ("check", "default", "secret", "section")

    def __init__(
        self,
        default: object,
        check: Check | None,
        section: type[OptionsInterface] | None,
        secret: bool = False,
    ) -> None:
        self.default = default
        self.check = check
        self.section = section
        self.secret = secret

    def make_default(self) -> object:
        return _copy.copy(self.default) if isinstance(self.default, list) else self.default


def _checked(field: _Field, full: str, value: Any) -> Any:
    """*value* as the field's check returns it; for a secret key, an error that never shows it."""
    if field.check is None:
        return value
    if not field.secret:
        return field.check(full, value)
    error: ConfigurationError | None = None
    try:
        return field.check(full, value)
    except Exception as exc:  # a custom check may raise anything, with the value in its message
        error = secret_invalid(full, exc)
    # Raised outside the except block: the check's error (which shows the value) is not chained.
    raise error


def option(default: T, check: Check | None = None, *, secret: bool = False) -> T:
    """Declare an option key of a section: its default and the check (and normaliser) of values.

    ``port: int = option(9700, checks.int_check(1, 65535))``. *check* is called with the full
    dotted key and the assigned value and returns the value to store (see
    :mod:`tomodachi.options.checks`). A *secret* key (a password) is shown as ``'***'`` in ``repr``
    and in the error for a value its check rejects, whatever the value's type.
    """
    return cast(T, _Field(default, check, None, secret))


def subsection(cls: type[S]) -> S:
    """Declare a nested section (``Options.http``, ``Options.AMQP.qos``)."""
    return cast(S, _Field(None, None, cls))


class _SectionMeta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kwargs: Any) -> _SectionMeta:
        fields = {key: value for key, value in ns.items() if isinstance(value, _Field)}
        for key in fields:
            del ns[key]
        ns["__slots__"] = (*ns.get("__slots__", ()), *fields)
        cls = super().__new__(mcs, name, bases, ns, **kwargs)
        cls._fields = {**getattr(cls, "_fields", {}), **fields}  # type: ignore[attr-defined]
        return cls


class OptionsInterface(metaclass=_SectionMeta):
    """Base of :class:`~tomodachi.options.Options` and of each of its sections.

    A section is read and written as attributes (``section.port``), as items with dotted keys
    (``section["qos.queue_prefetch_count"]``) and with :meth:`get`; :meth:`asdict` flattens it.
    Keys are relative to the section; the top-level ``Options`` has full keys.
    """

    __slots__ = ("_deferred", "_extra", "_root")
    _fields: ClassVar[dict[str, _Field]] = {}
    _prefix: ClassVar[str] = ""  # the full key of this section ("" for Options itself)

    _root: OptionsInterface | None  # the Options this section belongs to, if any
    _deferred: list[tuple[str, Any]] | None  # values for other sections, set before attached
    _extra: dict[str, OptionsInterface] | None  # registered sections (Options only), made on use

    def __init__(self, values: Mapping[str, Any] | OptionsInterface | None = None, /, **kwargs: Any) -> None:
        object.__setattr__(self, "_root", None)
        object.__setattr__(self, "_deferred", None)
        object.__setattr__(self, "_extra", None)
        for name, field in self._fields.items():
            if field.section is not None:
                sub = field.section()
                sub._attach(self._top())
                object.__setattr__(self, name, sub)
            else:
                object.__setattr__(self, name, field.make_default())
        self._update({**(values or {}), **kwargs})

    # -- field storage (Options adds the registered sections) ------------------------------------

    def _field_table(self) -> Mapping[str, _Field]:
        return self._fields

    def _field(self, name: str) -> _Field | None:
        # _field_table().get(name), without building a table: reading a dotted key is a lookup.
        return self._fields.get(name)

    def _value(self, name: str) -> Any:
        return getattr(self, name)

    def _store(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    # -- key resolution ---------------------------------------------------------------------------

    def _top(self) -> OptionsInterface | None:
        return self if not self._prefix else self._root

    def _full(self, key: str) -> str:
        return f"{self._prefix}.{key}" if self._prefix else key

    def _attach(self, root: OptionsInterface | None) -> None:
        object.__setattr__(self, "_root", root)
        for name, field in self._fields.items():
            if field.section is not None:
                getattr(self, name)._attach(root)
        if root is not None and self._deferred:
            deferred = self._deferred
            object.__setattr__(self, "_deferred", None)
            for key, value in deferred:
                root._set(key, value)

    def _invalid(self, key: str) -> InvalidOptionError:
        import difflib

        full = self._full(key)
        fields = self._field_table()
        candidates = [self._full(name) for name in fields] + [self._full(k) for k in self._flat()]
        match = difflib.get_close_matches(full, candidates, n=1, cutoff=0.6)
        hint = f": did you mean '{match[0]}'?" if match else ":"
        where = f"in '{self._prefix}'" if self._prefix else "(top level)"
        valid = ", ".join(fields)
        return InvalidOptionError(f"Invalid option '{full}'{hint} Valid keys {where}: {valid}")

    def _set(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise InvalidOptionError(f"Invalid option {key!r}: option keys are strings")
        full = self._full(key)
        targets = LEGACY_KEYS.get(full)
        if targets is not None:
            for target in targets:
                self._set_full(target, value)
            return
        head, _, rest = key.partition(".")
        field = self._field(head)
        if field is None:
            if isinstance(value, Mapping) and full in LEGACY_PREFIXES:
                for sub_key, sub_value in value.items():
                    self._set(f"{key}.{sub_key}", sub_value)
                return
            raise self._invalid(key)
        if field.section is None:
            if rest:
                raise self._invalid(key)
            self._store(head, _checked(field, full, value))
        elif rest:
            self._value(head)._set(rest, value)
        elif isinstance(value, field.section):
            value._attach(self._top())
            self._store(head, value)
        elif isinstance(value, Mapping):
            self._value(head).copy()._update(value)  # a trial run, so that a bad value changes nothing
            self._value(head)._update(value)
        else:
            raise invalid(full, value, f"a dict or an {field.section.__qualname__} instance")

    def _set_full(self, target: str, value: Any) -> None:
        if not self._prefix:
            self._set(target, value)
        elif target.startswith(self._prefix + "."):
            self._set(target[len(self._prefix) + 1 :], value)
        elif self._root is not None:
            self._root._set(target, value)
        else:  # a standalone section: keep the value for the Options it will be attached to
            object.__setattr__(self, "_deferred", [*(self._deferred or ()), (target, value)])

    def _get(self, key: str) -> Any:
        if not isinstance(key, str):
            raise InvalidOptionError(f"Invalid option {key!r}: option keys are strings")
        full = self._full(key)
        targets = LEGACY_KEYS.get(full)
        if targets is not None:
            return self._get_full(targets[0], key)
        head, _, rest = key.partition(".")
        field = self._field(head)
        if field is None or (rest and field.section is None):
            raise self._invalid(key)
        value = self._value(head)
        return value._get(rest) if rest else value

    def _get_full(self, target: str, key: str) -> Any:
        if not self._prefix:
            return self._get(target)
        if target.startswith(self._prefix + "."):
            return self._get(target[len(self._prefix) + 1 :])
        if self._root is not None:
            return self._root._get(target)
        for deferred_key, value in reversed(self._deferred or ()):
            if deferred_key == target:
                return value
        raise InvalidOptionError(f"Option '{self._full(key)}' ('{target}') is only available on an Options")

    def _flat(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, field in self._field_table().items():
            value = self._value(name)
            if field.section is not None:
                result.update({f"{name}.{k}": v for k, v in value._flat().items()})
            else:
                result[name] = value
        return result

    # -- public mapping-like API ------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __contains__(self, key: object) -> bool:
        """True for every key that can be read: option keys, section names and legacy keys."""
        try:
            self._get(cast(str, key))
        except InvalidOptionError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat())

    def __len__(self) -> int:
        return len(self._flat())

    def get(self, key: str, default: Any = DEFAULT) -> Any:
        """The value of ``key``; for an unknown key ``default`` if given, else InvalidOptionError."""
        try:
            return self._get(key)
        except InvalidOptionError:
            if default is DEFAULT:
                raise
            return default

    def update(self, values: Mapping[str, Any] | OptionsInterface | None = None, /, **kwargs: Any) -> None:
        """Set several keys at once; keys may be dotted, nested dicts, or legacy keys.

        All or nothing: the values are first tried on a copy, so an invalid key or value raises
        and leaves these options unchanged.
        """
        items = {**(values or {}), **kwargs}
        top = self._root if self._prefix and self._root is not None else self
        trial = top.copy()
        (trial._get(self._prefix) if top is not self else trial)._update(items)
        self._update(items)

    def _update(self, items: Mapping[str, Any]) -> None:
        for key, value in items.items():
            self._set(key, value)

    def asdict(self) -> dict[str, Any]:
        """A flat dict of every key (dotted, relative to this section) and its value."""
        return _copy.deepcopy(self._flat())

    def keys(self) -> KeysView[str]:
        return self._flat().keys()

    def values(self) -> ValuesView[Any]:
        return self._flat().values()

    def items(self) -> ItemsView[str, Any]:
        return self._flat().items()

    def validate(self) -> None:
        """Check rules that span several keys; called by the framework when a service is set up.

        A secret value quoted in a section's error is replaced with ``'***'``.
        """
        error: ConfigurationError | None = None
        try:
            self._check()
        except ConfigurationError as exc:
            message = str(exc)
            masked = self._mask_secret_values(message)
            if masked == message:
                raise
            error = ConfigurationError(masked)
        if error is not None:
            raise error  # outside the except block: the original error is not chained
        for name, field in self._field_table().items():
            if field.section is not None:
                self._value(name).validate()

    def _mask_secret_values(self, message: str) -> str:
        for name, field in self._field_table().items():
            value = self._value(name)
            if field.secret and value is not None and value != "":
                for text in sorted({repr(value), str(value)}, key=len, reverse=True):
                    message = message.replace(text, repr(MASKED))
        return message

    def _check(self) -> None:
        """Rules of one section that span several of its keys (overridden by sections)."""

    def copy(self) -> Self:
        """A deep copy (nested sections and lists are not shared)."""
        new = type(self)()
        new._copy_from(self)
        return new

    def _copy_from(self, other: OptionsInterface) -> None:
        for name, field in other._field_table().items():
            if field.section is not None:
                self._value(name)._copy_from(other._value(name))
            else:
                self._store(name, _copy.deepcopy(other._value(name)))
        object.__setattr__(self, "_deferred", _copy.deepcopy(other._deferred))

    def __copy__(self) -> Self:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self.copy()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._flat() == other._flat()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return "\n".join(self._repr_lines(0))

    def _repr_lines(self, indent: int) -> list[str]:
        pad = " " * indent
        lines: list[str] = []
        if self._prefix:
            name = self._prefix.rpartition(".")[2]
            head = f'{pad}∴ {name} <class: "{type(self).__qualname__}" -- prefix: "{self._prefix}">:'
            lines.append(head)
            pad += "  "
        sections: list[OptionsInterface] = []
        for name, field in self._field_table().items():
            value = self._value(name)
            if field.section is not None:
                sections.append(value)
            elif field.secret and value is not None and not (isinstance(value, str) and not value):
                lines.append(f"{pad}| {name} = {MASKED!r}")
            else:
                lines.append(f"{pad}| {name} = {value!r}")
        for section in sections:
            lines.extend(section._repr_lines(len(pad)))
        return lines

    if not TYPE_CHECKING:  # hidden from mypy, so that typos in attribute names stay type errors

        def __getattr__(self, name: str) -> Any:
            # Only reached for names that are not slots: legacy keys, or mistakes.
            if name.startswith("_"):
                raise AttributeError(name)
            return self._get(name)

        def __setattr__(self, name: str, value: Any) -> None:
            if name.startswith("_"):
                object.__setattr__(self, name, value)
            else:
                self._set(name, value)
