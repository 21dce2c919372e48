"""What the services under test published and sent: ``app.published`` and ``app.wait_for_published``.

The publish calls (``amqp_publish``, ``aws_sns_sqs_publish``, ``sqs_send_message``, and a
custom transport's that reports) report each message to the run's observers as a
:class:`~tomodachi.messaging.observe.Published`; the harness keeps them as
:class:`PublishedMessage` records (a ``Published`` with :meth:`~PublishedMessage.decoded`), in
publish order, bounded by :data:`PUBLISHED_KEPT`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tomodachi.messaging.envelopes import DEFAULT, resolve_envelope
from tomodachi.messaging.observe import Published
from tomodachi.testing.delivery import wait_for

if TYPE_CHECKING:
    from tomodachi.clock import Clock

__all__ = [
    "PUBLISHED_KEPT",
    "PublishedLog",
    "PublishedMessage",
    "PublishedTimeout",
    "decode",
    "unwrap_sqs_body",
]

#: How many published messages a run keeps (the oldest is forgotten past it).
PUBLISHED_KEPT = 10_000


class PublishedTimeout(AssertionError):
    """No published message matched in time (a test failure, listing what was published)."""


@dataclass(frozen=True, slots=True)
class PublishedMessage(Published):
    """A message a service under test published or sent, as the transport reported it.

    The fields of :class:`~tomodachi.messaging.observe.Published`: ``kind`` (``amqp``,
    ``aws_sns_sqs`` for an SNS publish, ``sqs`` for an SQS send), ``service`` (its name),
    ``destination`` (routing key, topic or queue as the caller named it), ``payload`` (the body
    as it went out), ``message_id`` and ``data`` (what the caller passed, before the envelope).
    """

    publisher: Any = field(default=None, repr=False, compare=False)
    """The running service instance that published it (its envelope decodes the payload)."""

    @property
    def body(self) -> str:
        """The enveloped message: the payload, unwrapped from the SNS-like document an SQS send
        wraps it in by default."""
        return unwrap_sqs_body(self.payload) if self.kind == "sqs" else self.payload

    async def decoded(self, message_envelope: Any = DEFAULT, **envelope_kwargs: Any) -> Any:
        """The message as a handler receives it: the envelope's ``parse_message`` of :attr:`body`.

        The envelope is the publishing service's ``message_envelope`` unless given (pass the one
        the publish call used if it overrode it; ``envelope_kwargs`` such as ``proto_class=``
        go to ``parse_message``). With JsonBase the data is ``(await record.decoded())["data"]``.
        Without an envelope, the body itself.
        """
        return await decode(self.publisher, self.body, message_envelope, envelope_kwargs)

    def describe(self) -> str:
        """One line: kind, destination, publisher, id and the start of the payload."""
        payload = self.payload if len(self.payload) <= 120 else self.payload[:117] + "..."
        return f"{self.kind} {self.destination!r} from {self.service} (id {self.message_id}): {payload}"


class PublishedLog:
    """The published messages of a run, oldest first (at most :data:`PUBLISHED_KEPT`)."""

    def __init__(self, service_of: Callable[[str], Any], *, kept: int = PUBLISHED_KEPT) -> None:
        self._records: deque[PublishedMessage] = deque(maxlen=kept)
        self._service_of = service_of
        self._changed = asyncio.Event()

    @property
    def records(self) -> list[PublishedMessage]:
        return list(self._records)

    def add(self, event: Published) -> None:
        """An observer of the run's publishes."""
        self._records.append(
            PublishedMessage(
                event.kind,
                event.service,
                event.destination,
                event.payload,
                event.message_id,
                event.data,
                self._service_of(event.service),
            )
        )
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until *predicate()* holds (checked on every publish) or *timeout* seconds pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    def matching(
        self,
        destination: str | None = None,
        *,
        kind: str | None = None,
        service: str | None = None,
        match: Callable[[PublishedMessage], bool] | None = None,
    ) -> list[PublishedMessage]:
        """The records that match every criterion given."""
        return [
            record
            for record in self._records
            if (destination is None or record.destination == destination)
            and (kind is None or record.kind == kind)
            and (service is None or record.service == service)
            and (match is None or _matches(match, record))
        ]

    async def wait_for(
        self,
        destination: str | None = None,
        *,
        kind: str | None = None,
        service: str | None = None,
        match: Callable[[PublishedMessage], bool] | None = None,
        count: int = 1,
        clock: Clock | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the test
    ) -> list[PublishedMessage]:
        """Wait until *count* records match; return the first *count* of them."""

        def check() -> list[PublishedMessage] | None:
            found = self.matching(destination, kind=kind, service=service, match=match)
            return found[:count] if len(found) >= count else None

        found = await wait_for(check, self.wait_until, clock, timeout)
        if found is not None:
            return found
        wanted = ", ".join(
            f"{name}={value!r}"
            for name, value in (("destination", destination), ("kind", kind), ("service", service))
            if value is not None
        )
        if match is not None:
            wanted += (", " if wanted else "") + f"match={getattr(match, '__name__', match)!r}"
        got = len(self.matching(destination, kind=kind, service=service, match=match))
        seen = "\n".join(f"  - {record.describe()}" for record in list(self._records)[-20:])
        raise PublishedTimeout(
            f"{count} published message(s) matching {wanted or 'anything'} expected within {timeout} s, "
            f"{got} found; published instead:\n{seen or '  (nothing)'}"
        )


def _matches(match: Callable[[PublishedMessage], bool], record: PublishedMessage) -> bool:
    """*match(record)*; a predicate that fails on a record of another shape does not match it
    (``lambda r: r.data["id"] == 1`` on a message whose data is a string)."""
    try:
        return bool(match(record))
    except Exception:
        return False


def unwrap_sqs_body(body: str) -> str:
    """The message in an SNS notification or ``sqs_send_message`` document; other bodies as they are."""
    if body[:1] != "{":
        return body
    try:
        wrapper = json.loads(body)
    except ValueError:
        return body
    if (
        isinstance(wrapper, dict)
        and wrapper.get("Type") in ("Message", "Notification")
        and isinstance(wrapper.get("Message"), str)
    ):
        return str(wrapper["Message"])
    return body


async def decode(service: Any, body: str, message_envelope: Any, envelope_kwargs: dict[str, Any]) -> Any:
    """*body* decoded by *message_envelope* (``DEFAULT``: *service*'s); the body without one."""
    envelope = resolve_envelope(service, message_envelope)
    if envelope is None:
        return body
    result = envelope.parse_message(body, **envelope_kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result[0]
