"""Value checks for single option keys (public: a transport's option section uses them too).

Each check takes the full dotted key (for the message) and the value, and returns the value to store
(possibly normalised, e.g. ``"100M"`` becomes ``104857600``). A bad value raises
:class:`~tomodachi.errors.ConfigurationError` with a one-line message naming the key and the value.
Only stdlib is used, and ``ipaddress`` only when ``http.real_ip_from`` is actually set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tomodachi.errors import ConfigurationError, mask_url_credentials

Check = Callable[[str, Any], Any]

_KIB = 1024
_GIB = 1024**3
_UNITS = {"": 1, "K": _KIB, "M": _KIB**2, "G": _GIB}


def show(value: object) -> str:
    """The value for a one-line message: its repr, or its type if the repr is long or multi-line.

    The password of a URL in it is masked (``Options(amqp="amqp://user:pw@host")`` is a mistake
    that must not print ``pw``).
    """
    text = repr(value)
    if len(text) > 100 or "\n" in text:
        return f"<{type(value).__qualname__} object>"
    return mask_url_credentials(text)


class InvalidValueError(ConfigurationError):
    """A value a check rejected: ``Invalid value for option '<key>': <value> (expected <what>)``.

    The error keeps the key and the expectation (never the value), so that the error for a secret
    key can be made again with the value masked.
    """

    def __init__(self, key: str, value: object, expected: str) -> None:
        super().__init__(f"Invalid value for option '{key}': {show(value)} (expected {expected})")
        self.key = key
        self.expected = expected


class _Masked:
    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


#: Shown instead of the value of a secret key.
MASKED: object = _Masked()


def invalid(key: str, value: object, expected: str) -> ConfigurationError:
    return InvalidValueError(key, value, expected)


def secret_invalid(key: str, error: BaseException) -> ConfigurationError:
    """The error for a value of the secret *key* its check rejected with *error*: never the value.

    The expectation of an :class:`InvalidValueError` is kept; any other message (a custom check's)
    may quote the value, so it is replaced.
    """
    if isinstance(error, InvalidValueError):
        return InvalidValueError(key, MASKED, error.expected)
    return ConfigurationError(
        f"Invalid value for option '{key}': {MASKED!r} (rejected by its check, {type(error).__name__}; "
        "the message is not shown, as the key is secret)"
    )


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but `port=True` is a mistake, never a port number.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or isinstance(value, float)


def check_str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid(key, value, "a string")
    return value


def check_str_or_none(key: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise invalid(key, value, "a string or None")
    return value


def check_prefix(key: str, value: Any) -> str:
    """A name prefix: a string; ``None`` means no prefix and is stored as ``""``."""
    if value is None:
        return ""
    return check_str(key, value)


def check_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid(key, value, "True or False")
    return value


def int_check(minimum: int = 0, maximum: int | None = None, *, optional: bool = False) -> Check:
    """Build a check for an integer in ``[minimum, maximum]`` (``None`` allowed if ``optional``)."""
    expected = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
    if optional:
        expected += " or None"

    def check(key: str, value: Any) -> int | None:
        if value is None and optional:
            return None
        if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
            raise invalid(key, value, expected)
        return int(value)

    return check


def number_check(*, positive: bool = False, optional: bool = False) -> Check:
    """Build a check for a non-negative (or strictly positive) int or float."""
    expected = "a number greater than 0" if positive else "a number >= 0"
    if optional:
        expected += " or None"

    def check(key: str, value: Any) -> int | float | None:
        if value is None and optional:
            return None
        if not _is_number(value) or value != value or value < 0 or (positive and value == 0):
            raise invalid(key, value, expected)
        return value  # type: ignore[no-any-return]

    return check


def check_multiplier(key: str, value: Any) -> int | float:
    """A backoff multiplier: a number >= 1."""
    if not _is_number(value) or value != value or value < 1:
        raise invalid(key, value, "a number >= 1")
    return value  # type: ignore[no-any-return]


def choice_check(*choices: str) -> Check:
    """Build a check for one of *choices* (compared case-insensitively, stored lower-case)."""
    expected = "one of " + ", ".join(repr(c) for c in choices)

    def check(key: str, value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise invalid(key, value, expected)
        return value.lower()

    return check


def check_port_or_none(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or not 0 <= value <= 65535:
        raise invalid(key, value, "a port number from 0 to 65535, or None/0 for a random port")
    return int(value)


def check_url_path(key: str, value: Any) -> str:
    """A URL path: a string starting with ``/``."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise invalid(key, value, "a URL path starting with '/'")
    return value


def check_ops_port(key: str, value: Any) -> int | None:
    """``ops.port``: ``None`` (on the service's HTTP server), or a port of its own (``0``: any free one)."""
    if value is None:
        return None
    if not _is_int(value) or not 0 <= value <= 65535:
        raise invalid(key, value, "a port from 0 to 65535 (0: a free one), or None (the HTTP port)")
    return int(value)


def parse_size(value: str) -> int | None:
    """Parse ``"100M"``, ``"100MB"``, ``"1G"``, ``"512kb"``, ``"1024B"``, ``"2048"`` into bytes.

    Units are binary (K = 1024). Returns ``None`` if the string is not a size.
    """
    text = value.strip().upper()
    if text.endswith("B"):
        text = text[:-1]
    unit = text[-1:] if text[-1:] in ("K", "M", "G") else ""
    number = text[: len(text) - len(unit)].strip()
    if not number.isascii() or not number.replace(".", "", 1).isdigit():
        return None
    return int(float(number) * _UNITS[unit]) if "." in number else int(number) * _UNITS[unit]


def check_client_max_size(key: str, value: Any) -> int:
    expected = 'a size from 1024 bytes to 1 GiB: an int or a string like "100M", "512KB", "1G"'
    size = parse_size(value) if isinstance(value, str) else value if _is_int(value) else None
    if size is None or not _KIB <= size <= _GIB:
        raise invalid(key, value, expected)
    return int(size)


def check_access_log(key: str, value: Any) -> bool | str:
    if isinstance(value, bool) or (isinstance(value, str) and value.strip()):
        return value
    raise invalid(key, value, "True, False or the path of a log file")


def check_real_ip_from(key: str, value: Any) -> list[str]:
    """Trusted proxies: a str (comma/space separated) or a list of IP addresses or CIDR networks."""
    if isinstance(value, str):
        items: list[Any] = value.replace(",", " ").split()
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        raise invalid(key, value, "an IP address / CIDR network or a list of them")
    import ipaddress

    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except (TypeError, ValueError):
            raise invalid(key, item, "an IP address or a CIDR network like '10.0.0.0/8'") from None
    return [str(item) for item in items]


def check_str_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset) and all(isinstance(v, str) for v in value):
        return list(value)
    raise invalid(key, value, "a list of strings")


def check_kms_key(key: str, value: Any) -> str | bool | None:
    """A KMS key id; ``""`` or ``False`` turn encryption off, ``None`` leaves it as it is."""
    if value is None or value is False or isinstance(value, str):
        return value
    raise invalid(key, value, "a KMS key id, '' or False to disable encryption, or None")
