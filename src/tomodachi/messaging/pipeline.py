"""The message pipeline every message transport shares.

A transport receives a delivery, extracts the payload and its transport values (``topic``,
``routing_key``, ``receipt_handle``, ...) and calls a :class:`MessageHandler`. The handler
decodes the envelope, injects keywords, runs the ``message_middleware`` chain and the
handler, and returns an :class:`Outcome` that tells the transport how to settle:

- :attr:`Settle.ACK`: handled (also when a middleware returned without calling the handler);
- :attr:`Settle.RETRY`: leave the message for redelivery (:class:`~tomodachi.RetryMessage`);
- :attr:`Settle.DEAD_LETTER`: it can never succeed (undecodable, rejected, or the handler
  failed): dead-letter it where a destination is configured, otherwise drop it. Either way it
  was logged once, with its message id.

Everything that depends on the handler's signature is worked out once, at construction.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import enum
import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Protocol

from tomodachi.envelope import DEFAULT_MAX_MESSAGE_SIZE, MessageTooLargeError
from tomodachi.errors import ConfigurationError, describe_exception
from tomodachi.injection import (
    compile_handler,
    compile_middleware_chain,
    first_parameter,
    taken_names,
    warn_unfillable_parameters,
)
from tomodachi.logging import get_logger, reset_context_logger, set_context_logger
from tomodachi.logging.context import ContextLoggerSetter
from tomodachi.messaging.envelopes import check_envelope, resolve_envelope
from tomodachi.messaging.errors import RejectMessage, RetryMessage
from tomodachi.messaging.retry import Decision, RetryPolicy, Verdict, log_decision, policy_for
from tomodachi.observability import hooks as _hooks

if TYPE_CHECKING:
    from tomodachi.transport.base import Handler

__all__ = ["HANDLED", "MessageHandler", "Outcome", "Settle", "Subscription", "handler_for_subscription"]


class Settle(enum.Enum):
    """How a transport settles a message after the pipeline ran."""

    ACK = "ack"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one delivery of a message."""

    settle: Settle
    reason: str
    error: BaseException | None = None

    @property
    def handled(self) -> bool:
        return self.settle is Settle.ACK


HANDLED = Outcome(Settle.ACK, "handled")


class MessageHandler:
    """One message handler of a service, compiled for a transport.

    - ``kind``: the family's name (``"amqp"``, ``"aws_sns_sqs"``, or a custom transport's);
      the handler logger is ``tomodachi.<kind>.handler``.
    - ``positional_key``: the transport value a middleware receives after ``message``
      (``"topic"`` or ``"routing_key"``).
    - ``envelope``: the envelope object, or ``None`` for raw payloads (the handler's first
      positional parameter then receives the payload, whatever its name).
    - ``envelope_kwargs``: the decorator's extra keywords, passed to ``parse_message`` (with
      ``message_attributes=`` when the transport has them), like the original.
    - ``callback_kwargs``: when given, only these names are injected.
    - ``retry``: the handler's :class:`~tomodachi.RetryPolicy` (default: the service's ``retry``
      options); transports settle with :meth:`decide`.
    - ``value_names``: the names of the transport's values (``values`` of :meth:`__call__`);
      with them, each handler parameter without a default that neither they, ``message``,
      ``message_uuid`` nor the envelope's keys can fill gets a start-up warning with the nearest
      name (not when the service has ``message_middleware``, which may add keywords). The
      envelope's keys: its ``message_keys`` attribute, else ``data``, ``metadata`` and
      ``service`` for the built-in envelopes; other envelopes are not checked.
    - ``max_size``: the largest payload accepted (option ``max_message_size``; default
      :data:`~tomodachi.envelope.DEFAULT_MAX_MESSAGE_SIZE`); a larger one is settled as
      undecodable. Envelopes whose ``parse_message`` takes a ``max_size`` keyword (the built-in
      ones) get it too, and apply it to the data they decode (inflate).
    """

    def __init__(
        self,
        service: Any,
        handler: Handler,
        *,
        kind: str,
        positional_key: str,
        envelope: Any,
        envelope_kwargs: Mapping[str, Any] | None = None,
        callback_kwargs: Sequence[str] | None = None,
        middleware: Sequence[Callable[..., Any]] | None = None,
        max_size: int | None = None,
        retry: RetryPolicy | None = None,
        value_names: Collection[str] | None = None,
    ) -> None:
        self.service = service
        self.name = handler.name
        self.kind = kind
        self.envelope = envelope
        self._positional_key = positional_key
        #: The value that names where a message came from (``routing_key``, ``topic``, ``queue``).
        self.positional_key = positional_key
        self.max_size = DEFAULT_MAX_MESSAGE_SIZE if max_size is None else max_size
        self._setup_envelope(envelope, envelope_kwargs)
        self._only = frozenset(callback_kwargs) if callback_kwargs is not None else None
        if middleware is None:
            middleware = list(getattr(service, "message_middleware", None) or [])
        self._compile(handler, middleware, value_names, callback_kwargs)
        self.logger = get_logger(f"tomodachi.{kind}.handler").new(handler=self.name)
        self._set_logger = ContextLoggerSetter(self.logger)
        #: How failures of this handler are retried (``retry=``, else the service's ``retry`` options).
        self.retry_policy: RetryPolicy = (
            retry if retry is not None else policy_for(service, None, where=self.name)
        )

    def _setup_envelope(self, envelope: Any, envelope_kwargs: Mapping[str, Any] | None) -> None:
        """How payloads are unwrapped: the envelope's ``parse_message`` and its keywords."""
        self._parse = getattr(envelope, "parse_message", None) if envelope is not None else None
        # Like the original, message_attributes are passed only with decorator options.
        self._pass_attributes = bool(envelope_kwargs)
        self._envelope_kwargs = dict(envelope_kwargs or {})
        if self._parse is not None and _takes_max_size(self._parse):
            self._envelope_kwargs["max_size"] = self.max_size
        # The usual keywords (a built-in envelope, no decorator options): passed as one keyword.
        self._max_size_only = self._envelope_kwargs == {"max_size": self.max_size}

    def _compile(
        self,
        handler: Handler,
        middleware: Sequence[Callable[..., Any]],
        value_names: Collection[str] | None,
        callback_kwargs: Sequence[str] | None,
    ) -> None:
        """The handler's call (and middleware chain), what it can be given, start-up warnings."""
        first = "message" if self.envelope is None else None
        call = compile_handler(handler.func, first=first, missing_as_none=True)
        self._invoke = compile_middleware_chain(middleware, call, 3, missing_as_none=True)
        #: Every keyword the handler can be given (None: not known), see ``value_names``.
        self.value_names = self._handler_names(handler, value_names, callback_kwargs)
        if not middleware:
            warn_unfillable_parameters(
                handler.func,
                self.value_names,
                handler=handler.name,
                kind=self.kind,
                service=str(getattr(self.service, "name", "")),
            )
        # Without middleware the handler is called directly (one coroutine less per message).
        self._call = None if middleware else call
        #: The values the handler can be given (None: any, it takes ``**kwargs`` or there is
        #: middleware); a transport may leave out the others (see :meth:`takes_any`).
        self.takes: frozenset[str] | None = None
        if not middleware:
            self.takes = taken_names(handler.func, first=first)
            if self.takes is not None and self._only is not None:
                self.takes &= self._only

    def _handler_names(
        self, handler: Handler, value_names: Collection[str] | None, only: Sequence[str] | None
    ) -> frozenset[str] | None:
        if value_names is None:
            return None
        names = {*value_names, "message", "message_uuid"}
        if self.envelope is None:
            first = first_parameter(handler.func)
            if first is not None:
                names.add(first)
        else:
            keys = _envelope_keys(self.envelope)
            if keys is None:
                return None
            names.update(keys)
        if only is not None:
            names &= set(only)
        return frozenset(names)

    def handler_context(self) -> contextvars.Context:
        """A copy of the current context with this handler's logger as the context logger: a
        transport that runs each delivery in a task of its own copies it once more per task
        (``loop.create_task(..., context=base.copy())``) and calls :meth:`deliver` with
        ``in_handler_context=True``, instead of setting and resetting the logger per message."""
        context = contextvars.copy_context()
        context.run(set_context_logger, self.logger)
        return context

    def takes_any(self, names: Collection[str]) -> bool:
        """Whether the handler may be given one of the transport values *names* (computed once
        per handler by the transport: building a value nobody reads is the cost to save)."""
        return self.takes is None or not self.takes.isdisjoint(names)

    async def __call__(self, payload: str, values: dict[str, Any], *, message_id: str) -> Outcome:
        """Run the pipeline for one delivery; never raises (except ``CancelledError``).

        Through the installed instrumentation, if any (``tomodachi.observability``).
        """
        active = _hooks.active
        if active is not None:
            return await active.message(self, payload, values, message_id)
        return await self.deliver(payload, values, message_id=message_id)

    async def deliver(
        self, payload: str, values: dict[str, Any], *, message_id: str, in_handler_context: bool = False
    ) -> Outcome:
        """The pipeline itself, without instrumentation (what ``__call__`` runs).

        *in_handler_context*: the caller runs this in a task of its own whose context already has
        :attr:`logger` as the context logger (see :meth:`handler_context`): it is not set again.
        """
        # The envelope is called inline (not via a helper coroutine): this is the hot path.
        try:
            result = self._unwrap(payload, values)
            if type(result) is CoroutineType or inspect.isawaitable(result):  # the first: cheap
                result = await result
            message, message_uuid = result[0], result[1]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return self._undecodable(payload, message_id, exc)

        values["message"] = message
        values["message_uuid"] = message_uuid
        call = self._call
        # The handler gets the transport's values and the envelope's keys (which win, as in the
        # original); middlewares get only the transport's values.
        handler_values = values
        if isinstance(message, dict):
            if call is not None:
                values.update(message)
            else:
                handler_values = {**values, **message}
        if self._only is not None:
            handler_values = {k: v for k, v in handler_values.items() if k in self._only}
        token = None if in_handler_context else self._set_logger.set()
        try:
            if call is not None:
                await call(handler_values)
            else:
                await self._invoke(
                    (self.service, message, values.get(self._positional_key)), values, handler_values
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return self._failed(message_id, exc)
        finally:
            if token is not None:
                reset_context_logger(token)
        return HANDLED

    def _unwrap(self, payload: str, values: dict[str, Any]) -> Any:
        """The envelope's result for *payload* (awaitable for an async envelope); raises
        ``MessageTooLargeError`` for a payload over ``max_size``."""
        if len(payload) > self.max_size:
            raise MessageTooLargeError("payload", len(payload), self.max_size)
        parse = self._parse
        if parse is None:
            return payload, None
        if self._max_size_only:
            return parse(payload, max_size=self.max_size)
        kwargs = self._envelope_kwargs
        if not kwargs:
            return parse(payload)
        if self._pass_attributes and "message_attributes" in values:
            kwargs = {**kwargs, "message_attributes": values["message_attributes"]}
        return parse(payload, **kwargs)

    def _undecodable(self, payload: str, message_id: str, exc: Exception) -> Outcome:
        """The outcome of a payload the envelope could not unwrap (logged)."""
        if isinstance(exc, MessageTooLargeError):
            return self.too_large(message_id, len(payload), exc)
        self.logger.warning(
            "undecodable message",
            message_id=message_id,
            error=describe_exception(exc),
            envelope=_name(self.envelope),
        )
        return Outcome(Settle.DEAD_LETTER, "undecodable", exc)

    def _failed(self, message_id: str, exc: Exception) -> Outcome:
        """The outcome of a handler that raised *exc* (logged, but for a retry request)."""
        if isinstance(exc, RetryMessage):  # logged by decide(), with the attempt and the delay
            return Outcome(Settle.RETRY, "retry requested", exc)
        if isinstance(exc, RejectMessage):
            self.logger.warning("message rejected", message_id=message_id, reason=describe_exception(exc))
            return Outcome(Settle.DEAD_LETTER, "rejected", exc)
        self.logger.exception("uncaught exception in message handler", message_id=message_id)
        return Outcome(Settle.DEAD_LETTER, "handler failed", exc)

    def decide(
        self,
        outcome: Outcome,
        attempt: int,
        *,
        message_id: str | None,
        dead_letter_to: str | None,
        quantize: Callable[[float], float] | None = None,
        **fields: Any,
    ) -> Decision:
        """The :class:`~tomodachi.messaging.retry.Decision` for a delivery, logged (retries,
        dead-letters and drops at WARNING or above; see :func:`~tomodachi.messaging.retry.log_decision`).

        *attempt* is the delivery number of the message (1 on its first delivery);
        *dead_letter_to* names the handler's dead-letter destination (``None``: there is none,
        so a dead-letter verdict drops the message). *quantize* maps a retry delay to the one
        the broker will give (AMQP's retry queues round it). *fields* are added to the log line.
        """
        decision = self.retry_policy.decide(outcome, attempt)
        if quantize is not None and decision.verdict is Verdict.RETRY:
            decision = replace(decision, delay=quantize(decision.delay))
        if decision.verdict is not Verdict.ACK:
            log_decision(self.logger, decision, message_id, outcome, dead_letter_to=dead_letter_to, **fields)
        active = _hooks.active
        if active is not None:
            active.decided(self, outcome, decision, message_id)
        return decision

    def too_large(self, message_id: str, raw_size: int, exc: MessageTooLargeError | None = None) -> Outcome:
        """Log once that a message is over ``max_size``, and the :class:`Outcome` to settle it with.

        For a transport that checks a message's size before it decodes the body itself.
        """
        if exc is None:
            exc = MessageTooLargeError("payload", raw_size, self.max_size)
        self.logger.warning(
            "undecodable message: too large",
            message_id=message_id,
            raw_size=raw_size,
            max_message_size=self.max_size,
            error=str(exc),
            envelope=_name(self.envelope),
        )
        return Outcome(Settle.DEAD_LETTER, "undecodable", exc)


class Subscription(Protocol):
    """What a message decorator's declaration tells the pipeline (``@amqp``, ``@aws_sns_sqs``, yours).

    A frozen dataclass with these fields satisfies it; ``DEFAULT`` (``tomodachi.messaging.envelopes``)
    for the envelope fields means "the service's ``message_envelope``".
    """

    @property
    def message_envelope(self) -> Any: ...
    @property
    def message_protocol(self) -> Any: ...
    @property
    def envelope_kwargs(self) -> Mapping[str, Any]: ...
    @property
    def callback_kwargs(self) -> Sequence[str] | None: ...

    # Optional: ``retry: RetryPolicy | None`` (the handler's own policy; read with getattr).


def handler_for_subscription(
    service: Any,
    handler: Handler,
    subscription: Subscription,
    *,
    kind: str,
    positional_key: str,
    where: str,
    value_names: Collection[str] | None = None,
) -> MessageHandler:
    """A :class:`MessageHandler` from a decorator's declaration (a :class:`Subscription`).

    *value_names*: the transport's value names (see :class:`MessageHandler`).

    The envelope is resolved and checked here, so a bad one fails start-up (naming *where*).
    """
    envelope = resolve_envelope(service, subscription.message_envelope, subscription.message_protocol)
    keywords: list[str] = (
        [f.name for f in dataclasses.fields(subscription) if f.name != "envelope_kwargs"]
        if dataclasses.is_dataclass(subscription)
        else []
    )
    check_envelope(envelope, where, subscription.envelope_kwargs, keywords)
    retry = policy_for(service, getattr(subscription, "retry", None), where=where)
    try:
        return MessageHandler(
            service,
            handler,
            kind=kind,
            positional_key=positional_key,
            envelope=envelope,
            envelope_kwargs=subscription.envelope_kwargs,
            callback_kwargs=subscription.callback_kwargs,
            max_size=_max_message_size(service),
            retry=retry,
            value_names=value_names,
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


_BUILT_IN_KEYS = frozenset({"data", "metadata", "service"})


def _envelope_keys(envelope: Any) -> Collection[str] | None:
    """The keys of the message dict *envelope* parses into (None: not known)."""
    keys = getattr(envelope, "message_keys", None)
    if isinstance(keys, (list, tuple, set, frozenset)):
        return frozenset(str(k) for k in keys)
    from tomodachi.envelope.json_base import JsonBase
    from tomodachi.envelope.protobuf_base import ProtobufBase

    parse = getattr(envelope, "parse_message", None)
    own = getattr(parse, "__func__", parse)
    for base in (JsonBase, ProtobufBase):
        if own is getattr(base.parse_message, "__func__", base.parse_message):
            return _BUILT_IN_KEYS
    return None


def _max_message_size(service: Any) -> int | None:
    options = getattr(service, "options", None)
    size = getattr(options, "max_message_size", None)
    return size if isinstance(size, int) else None


def _takes_max_size(parse: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(parse).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    parameter = parameters.get("max_size")
    return parameter is not None and parameter.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


def _name(envelope: Any) -> str:
    return getattr(envelope, "__name__", None) or type(envelope).__name__
