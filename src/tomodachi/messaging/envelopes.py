"""Choosing a handler's or a publish call's envelope, and encoding outgoing data with it."""

from __future__ import annotations

import inspect
from collections.abc import Collection, Mapping
from typing import Any

from tomodachi._keywords import nearest
from tomodachi.errors import ConfigurationError, TomodachiError

# The one "not given" sentinel of the package (``message_envelope=None`` means "no envelope"),
# re-exported for the message transports: tomodachi.options.DEFAULT itself, not a look-alike.
from tomodachi.options import DEFAULT

__all__ = ["DEFAULT", "PayloadError", "build_payload", "check_envelope", "resolve_envelope"]


class PayloadError(TomodachiError, TypeError):
    """Data passed to a publish call cannot be sent (wrong type without an envelope, unencodable)."""


def resolve_envelope(
    service: object, message_envelope: Any = DEFAULT, message_protocol: Any = DEFAULT
) -> Any:
    """The envelope to use: the call's or decorator's argument, else the service's attribute.

    ``message_protocol`` is the original's deprecated name for ``message_envelope``. ``None``
    (given explicitly, or as the service default) means raw payloads without an envelope.
    """
    if message_envelope is not DEFAULT:
        return message_envelope
    if message_protocol is not DEFAULT:
        return message_protocol
    envelope = getattr(service, "message_envelope", None)
    if envelope is None:
        envelope = getattr(service, "message_protocol", None)
    return envelope


def _named_by(func: Any) -> frozenset[str]:
    """The parameter names *func* declares (not what its ``**kwargs`` takes)."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD)


def _keyword_typos(envelope: Any, envelope_kwargs: Mapping[str, Any], keywords: Collection[str]) -> list[str]:
    """Extra keywords that the envelope does not name and that look like typos of *keywords*."""
    named: frozenset[str] = frozenset()
    for method in ("parse_message", "validate"):
        if envelope is not None and callable(getattr(envelope, method, None)):
            named |= _named_by(getattr(envelope, method))
    typos = []
    for key in envelope_kwargs:
        if key not in named and (close := nearest(key, keywords, cutoff=0.75)) is not None:
            typos.append(f"{key!r} (did you mean {close!r}?)")
    return typos


def check_envelope(
    envelope: Any, where: str, envelope_kwargs: Mapping[str, Any], keywords: Collection[str] = ()
) -> None:
    """Raise ``ConfigurationError`` unless *envelope* is ``None`` or has the two envelope methods.

    Calls the envelope's optional ``validate(**kwargs)`` with the decorator's extra keywords
    (``proto_class=...``), so a missing argument is reported at start-up, not per message.
    An extra keyword that the envelope's ``parse_message``/``validate`` does not name and that
    is close to one of the decorator's own *keywords* (``competeing``) is reported as a typo.
    """
    typos = _keyword_typos(envelope, envelope_kwargs, keywords)
    if typos:
        raise ConfigurationError(f"{where}: unknown keyword argument {', '.join(typos)}")
    if envelope is None:
        if envelope_kwargs:
            names = ", ".join(sorted(envelope_kwargs))
            raise ConfigurationError(
                f"{where}: unexpected keyword argument(s) {names} (no message envelope is set)"
            )
        return
    for method in ("build_message", "parse_message"):
        if not callable(getattr(envelope, method, None)):
            raise ConfigurationError(
                f"{where}: message_envelope {envelope!r} has no {method}() method "
                "(use tomodachi.envelope.JsonBase, ProtobufBase, or an object with "
                "async build_message() and parse_message())"
            )
    validate = getattr(envelope, "validate", None)
    if callable(validate):
        try:
            validate(**envelope_kwargs)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from exc
        except Exception as exc:
            raise ConfigurationError(f"{where}: invalid envelope arguments: {exc}") from exc


async def build_payload(service: object, envelope: Any, topic: str, data: Any, **kwargs: Any) -> str:
    """Encode *data* for *topic* with *envelope*; without one, *data* must be ``str`` (or bytes)."""
    if envelope is None:
        if isinstance(data, str):
            return data
        if isinstance(data, (bytes, bytearray)):
            try:
                return bytes(data).decode("utf-8")
            except UnicodeDecodeError:
                raise PayloadError("without a message envelope, bytes data must be UTF-8 text") from None
        raise PayloadError(
            f"without a message envelope, data must be str (got {type(data).__name__}); "
            "set message_envelope=JsonBase (or the service's message_envelope) to send objects"
        )
    result = envelope.build_message(service, topic, data, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, (bytes, bytearray)):
        return bytes(result).decode("utf-8")
    if not isinstance(result, str):
        raise PayloadError(f"{envelope!r}.build_message() returned {type(result).__name__}, expected str")
    return result
