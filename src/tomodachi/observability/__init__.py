"""Instrumentation hooks of the shared layers: what OpenTelemetry and Prometheus plug into.

The HTTP endpoint, the message pipeline (``MessageHandler``: every message transport, built-in
or written on the kit), the scheduler and the publish paths each read :data:`hooks.active <Hooks>`
once per request, message, run or publish. While it is ``None`` (nothing installed, the default)
that attribute check is all instrumentation costs, and nothing of OpenTelemetry or
``prometheus_client`` is imported. An installed :class:`Instrumentation` wraps each of them:

=====================================  ========================================================
``http(endpoint, request, groups, transport)``  one HTTP request to a route (``transport.route_of(endpoint)``
                                        is its URL pattern); returns the response
``message(handler, payload, values, message_id)``  one delivery through a message pipeline;
                                        returns the :class:`~tomodachi.messaging.pipeline.Outcome`
``decided(handler, outcome, decision, message_id)``  the retry policy's decision for it (retry,
                                        dead-letter, drop, ack), right after
``scheduled(call, values, service, handler)``  one run of a scheduled function
``schedule_skipped(service, handler)``  a run skipped (the previous one still running)
``publish(send, kind, service, destination)``  one publish: ``await send(headers)`` publishes
                                        with *headers* (a ``dict[str, str]`` the hook may fill,
                                        e.g. with ``traceparent``) carried by the broker
``exception(exc)``                      an exception the framework caught (an HTTP 500)
=====================================  ========================================================

A custom transport gets all of it through the kit: its messages go through ``MessageHandler``
and ``decide()``; on the consumer side it puts the metadata that came with the message
(a ``Mapping[str, str]``) into the pipeline's values as ``"headers"`` (the built-ins: AMQP
``properties.headers``, SNS/SQS ``message_attributes``), and it publishes through
:func:`publishing`, which hands it the headers to send along::

    async def list_queue_push(service, queue, data):
        payload = await build_payload(...)
        await publishing(lambda headers: backend.push(queue, payload, headers), "list_queue", service, queue)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aiohttp import web

    from tomodachi.messaging.pipeline import MessageHandler, Outcome
    from tomodachi.messaging.retry import Decision

__all__ = ["Hooks", "Instrumentation", "hooks", "install", "message_headers", "publishing", "uninstall"]

T = TypeVar("T")


class Instrumentation:
    """Base class of an instrumentation: every method passes straight through. Override some."""

    async def http(
        self, endpoint: Any, request: web.BaseRequest, groups: Mapping[str, str | None], transport: Any
    ) -> web.StreamResponse:
        response: web.StreamResponse = await endpoint(request, groups)
        return response

    async def message(
        self, handler: MessageHandler, payload: str, values: dict[str, Any], message_id: str
    ) -> Outcome:
        return await handler.deliver(payload, values, message_id=message_id)

    def decided(
        self, handler: MessageHandler, outcome: Outcome, decision: Decision, message_id: str | None
    ) -> None:
        return None

    async def scheduled(
        self,
        call: Callable[[dict[str, Any]], Awaitable[Any]],
        values: dict[str, Any],
        service: Any,
        handler: str,
    ) -> Any:
        return await call(values)

    def schedule_skipped(self, service: Any, handler: str) -> None:
        return None

    async def publish(
        self, send: Callable[[dict[str, str]], Awaitable[T]], kind: str, service: Any, destination: str
    ) -> T:
        return await send({})

    def exception(self, exc: BaseException) -> None:
        return None


class _Chain(Instrumentation):
    """Two instrumentations at once (OpenTelemetry and Prometheus): *outer* wraps *inner*."""

    def __init__(self, outer: Instrumentation, inner: Instrumentation) -> None:
        self.outer, self.inner = outer, inner

    async def http(
        self, endpoint: Any, request: web.BaseRequest, groups: Mapping[str, str | None], transport: Any
    ) -> web.StreamResponse:
        inner = self.inner

        async def call(request: web.BaseRequest, groups: Mapping[str, str | None]) -> web.StreamResponse:
            return await inner.http(endpoint, request, groups, transport)

        return await self.outer.http(call, request, groups, transport)

    async def message(
        self, handler: MessageHandler, payload: str, values: dict[str, Any], message_id: str
    ) -> Outcome:
        return await self.outer.message(_Delivering(handler, self.inner), payload, values, message_id)  # type: ignore[arg-type]

    def decided(
        self, handler: MessageHandler, outcome: Outcome, decision: Decision, message_id: str | None
    ) -> None:
        self.inner.decided(handler, outcome, decision, message_id)
        self.outer.decided(handler, outcome, decision, message_id)

    async def scheduled(
        self,
        call: Callable[[dict[str, Any]], Awaitable[Any]],
        values: dict[str, Any],
        service: Any,
        handler: str,
    ) -> Any:
        inner = self.inner

        async def run(values: dict[str, Any]) -> Any:
            return await inner.scheduled(call, values, service, handler)

        return await self.outer.scheduled(run, values, service, handler)

    def schedule_skipped(self, service: Any, handler: str) -> None:
        self.inner.schedule_skipped(service, handler)
        self.outer.schedule_skipped(service, handler)

    async def publish(
        self, send: Callable[[dict[str, str]], Awaitable[T]], kind: str, service: Any, destination: str
    ) -> T:
        inner = self.inner

        async def sending(headers: dict[str, str]) -> T:
            async def with_headers(more: dict[str, str]) -> T:
                return await send({**headers, **more})

            return await inner.publish(with_headers, kind, service, destination)

        return await self.outer.publish(sending, kind, service, destination)

    def exception(self, exc: BaseException) -> None:
        self.inner.exception(exc)
        self.outer.exception(exc)


class _Delivering:
    """A message handler seen through the inner instrumentation (for :class:`_Chain`)."""

    def __init__(self, handler: MessageHandler, inner: Instrumentation) -> None:
        self._handler, self._inner = handler, inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)

    async def deliver(self, payload: str, values: dict[str, Any], *, message_id: str) -> Outcome:
        return await self._inner.message(self._handler, payload, values, message_id)


class Hooks:
    """Where the shared layers look: ``hooks.active`` is ``None`` or the installed instrumentation."""

    __slots__ = ("active", "installed")

    def __init__(self) -> None:
        self.active: Instrumentation | None = None
        self.installed: list[Instrumentation] = []


#: Process-wide, like OpenTelemetry's global providers and prometheus_client's registry.
hooks = Hooks()


def _rebuild() -> None:
    active: Instrumentation | None = None
    for instrumentation in hooks.installed:
        active = instrumentation if active is None else _Chain(instrumentation, active)
    hooks.active = active


def install(instrumentation: Instrumentation) -> None:
    """Plug *instrumentation* into the shared layers (the last installed is the outermost)."""
    if instrumentation not in hooks.installed:
        hooks.installed.append(instrumentation)
        _rebuild()


def uninstall(instrumentation: Instrumentation) -> None:
    """Take *instrumentation* out again (the hot paths are back to one attribute check)."""
    if instrumentation in hooks.installed:
        hooks.installed.remove(instrumentation)
        _rebuild()


def installed(kind: type[Instrumentation]) -> Instrumentation | None:
    """The installed instrumentation of class *kind*, if any."""
    for instrumentation in hooks.installed:
        if isinstance(instrumentation, kind):
            return instrumentation
    return None


async def publishing(
    send: Callable[[dict[str, str]], Awaitable[T]], kind: str, service: Any, destination: str
) -> T:
    """Publish through the hooks: ``await send(headers)`` sends the message with *headers*.

    For a custom transport's publish function. Without instrumentation *headers* is empty and
    this is one attribute check more than ``await send({})``.
    """
    active = hooks.active
    if active is None:
        return await send({})
    return await active.publish(send, kind, service, destination)


def message_headers(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """The metadata that came with a message, from the pipeline's *values*: ``values["headers"]``
    (custom transports), SNS/SQS ``message_attributes``, AMQP ``properties.headers``; ``{}``."""
    headers = values.get("headers")
    if isinstance(headers, Mapping):
        return headers
    attributes = values.get("message_attributes")
    if isinstance(attributes, Mapping):
        return attributes
    properties = values.get("properties")
    headers = getattr(properties, "headers", None)
    if isinstance(headers, Mapping):
        return headers
    return {}
