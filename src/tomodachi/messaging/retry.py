"""Retries as a declared policy, shared by every message transport.

A :class:`RetryPolicy` says how often a failing message is delivered again, how long to wait
before each new delivery, which failures retry, and what happens after the last attempt. It is
declared per service (the ``retry`` option section) or per handler (``retry=`` on the message
decorators), and applied the same way by every transport:

1. the pipeline runs the handler and returns an :class:`~tomodachi.messaging.pipeline.Outcome`;
2. the transport asks ``policy.decide(outcome, attempt)`` for a :class:`Decision`, where
   *attempt* is the delivery number of this message (1 on its first delivery; from the broker's
   own counters where it has them);
3. the transport carries the decision out with its broker's own features: ``ACK``,
   ``RETRY`` after ``decision.delay`` seconds (AMQP: a retry queue with a message TTL; SQS: the
   message's visibility timeout; a custom transport: whatever its broker offers), ``DEAD_LETTER``
   (to the handler's dead-letter destination; dropped and logged where there is none) or
   ``DROP`` (``after_last_attempt="drop"``);
4. :func:`log_decision` writes the WARNING line every retry and dead-letter gets.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from tomodachi.errors import ConfigurationError, describe_exception

if TYPE_CHECKING:
    from tomodachi.messaging.pipeline import Outcome

__all__ = ["DEFAULT_RETRY_POLICY", "Decision", "RetryPolicy", "Verdict", "log_decision", "policy_for"]

AfterLastAttempt = Literal["dead_letter", "drop"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Verdict(enum.Enum):
    """What a transport does with a delivery (see :class:`Decision`)."""

    ACK = "ack"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer for one delivery.

    - ``verdict``: what to do;
    - ``delay``: for ``RETRY``, the seconds before the message is delivered again (0: at once);
    - ``attempt``: the delivery number this decision is about (1 for the first delivery);
    - ``reason``: the outcome's reason (``"retry requested"``, ``"handler failed"``, ...), with
      ``"; retries exhausted"`` when the last attempt failed;
    - ``exhausted``: the message failed its last attempt.
    """

    verdict: Verdict
    delay: float = 0.0
    attempt: int = 1
    reason: str = ""
    exhausted: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failing message is retried (see the module docstring and ``docs/retries.md``).

    - ``max_attempts``: deliveries in all, the first included (``None``: no limit); 1 means
      never retried;
    - ``initial_delay``, ``multiplier``, ``max_delay``: the wait before the *n*-th retry is
      ``min(initial_delay * multiplier ** (n - 1), max_delay)`` seconds; ``multiplier=1`` is a
      fixed delay, ``initial_delay=0`` an immediate redelivery (the original library's
      behaviour, see :meth:`immediate`);
    - ``jitter``: wait a random time between half the delay and the delay (so that failures
      that started together do not retry together);
    - ``retry_on``: exception classes that retry besides :class:`~tomodachi.RetryMessage` (and
      the original's ``AmqpInternalServiceError`` / ``AWSSNSSQSInternalServiceError`` families,
      which are ``RetryMessage`` subclasses); ``retry_failures=True`` retries every exception
      a handler raises (``RejectMessage`` and undecodable messages never retry);
    - ``after_last_attempt``: ``"dead_letter"`` (to the handler's dead-letter destination; a
      handler without one drops the message, logged) or ``"drop"`` (logged).
    """

    max_attempts: int | None = 10
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 300.0
    jitter: bool = True
    retry_on: tuple[type[BaseException], ...] = field(default=())
    retry_failures: bool = False
    after_last_attempt: AfterLastAttempt = "dead_letter"

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts is not None and (not _is_int(self.max_attempts) or self.max_attempts < 1):
            problems.append(f"max_attempts must be an integer >= 1 or None, got {self.max_attempts!r}")
        for name in ("initial_delay", "max_delay"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                problems.append(f"{name} must be a number of seconds >= 0, got {value!r}")
        if not _is_number(self.multiplier) or self.multiplier < 1:
            problems.append(f"multiplier must be a number >= 1, got {self.multiplier!r}")
        if self.after_last_attempt not in ("dead_letter", "drop"):
            problems.append(
                f"after_last_attempt must be 'dead_letter' or 'drop', got {self.after_last_attempt!r}"
            )
        retry_on = self.retry_on
        if isinstance(retry_on, type):
            retry_on = (retry_on,)
            object.__setattr__(self, "retry_on", retry_on)
        elif isinstance(retry_on, list):
            retry_on = tuple(retry_on)
            object.__setattr__(self, "retry_on", retry_on)
        if not isinstance(retry_on, tuple) or not all(
            isinstance(kind, type) and issubclass(kind, BaseException) for kind in retry_on
        ):
            problems.append(f"retry_on must be exception classes, got {self.retry_on!r}")
        if problems:
            raise ConfigurationError("invalid RetryPolicy: " + "; ".join(problems))

    @classmethod
    def immediate(cls, max_attempts: int | None = None) -> RetryPolicy:
        """Redeliver at once, without limit by default: the original library's behaviour."""
        return cls(max_attempts=max_attempts, initial_delay=0.0, max_delay=0.0, jitter=False)

    @classmethod
    def from_options(cls, options: Any) -> RetryPolicy:
        """The service-wide policy of the ``retry`` option section."""
        section = options.retry
        return cls(
            max_attempts=section.max_attempts,
            initial_delay=float(section.initial_delay),
            multiplier=float(section.multiplier),
            max_delay=float(section.max_delay),
            jitter=bool(section.jitter),
            retry_failures=bool(section.retry_failures),
            after_last_attempt=section.after_last_attempt,
        )

    def with_max_attempts(self, max_attempts: int | None) -> RetryPolicy:
        return replace(self, max_attempts=max_attempts)

    # -- decisions -------------------------------------------------------------------------
    def retries(self, outcome: Outcome) -> bool:
        """Whether *outcome* asks for another delivery under this policy (limits aside)."""
        from tomodachi.messaging.pipeline import Settle

        if outcome.settle is Settle.RETRY:
            return True
        if outcome.settle is not Settle.DEAD_LETTER or outcome.reason != "handler failed":
            return False  # handled, rejected, undecodable
        error = outcome.error
        return self.retry_failures or (error is not None and isinstance(error, self.retry_on))

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed delivery number *attempt* (1-based) before the next one."""
        if self.initial_delay <= 0:
            return 0.0
        exponent = max(attempt - 1, 0)
        try:
            base = self.initial_delay * self.multiplier**exponent
        except OverflowError:
            base = self.max_delay
        base = min(base, self.max_delay)
        if self.jitter and base > 0:
            base = base / 2 + base / 2 * rng()
        return base

    def decide(self, outcome: Outcome, attempt: int, rng: Callable[[], float] = random.random) -> Decision:
        """What to do with a delivery whose pipeline returned *outcome*, on delivery *attempt*."""
        from tomodachi.messaging.pipeline import Settle

        if outcome.settle is Settle.ACK:
            return Decision(Verdict.ACK, attempt=attempt, reason=outcome.reason)
        if not self.retries(outcome):
            return Decision(Verdict.DEAD_LETTER, attempt=attempt, reason=outcome.reason)
        if self.max_attempts is not None and attempt >= self.max_attempts:
            verdict = Verdict.DROP if self.after_last_attempt == "drop" else Verdict.DEAD_LETTER
            return Decision(
                verdict, attempt=attempt, reason=f"{outcome.reason}; retries exhausted", exhausted=True
            )
        return Decision(Verdict.RETRY, delay=self.delay(attempt, rng), attempt=attempt, reason=outcome.reason)


#: The policy of a service that declares none (the ``retry`` option section's defaults).
DEFAULT_RETRY_POLICY = RetryPolicy()


def policy_for(service: Any, declared: RetryPolicy | None, *, where: str) -> RetryPolicy:
    """A handler's policy: the one it declares (``retry=``), else the service's ``retry`` options."""
    if declared is not None:
        if not isinstance(declared, RetryPolicy):
            raise ConfigurationError(f"{where}: retry must be a tomodachi.RetryPolicy, got {declared!r}")
        return declared
    options = getattr(service, "options", None)
    if options is None or not hasattr(options, "retry"):
        return DEFAULT_RETRY_POLICY
    try:
        return RetryPolicy.from_options(options)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: options 'retry': {exc}") from None


def log_decision(
    logger: Any,
    decision: Decision,
    message_id: str | None,
    outcome: Outcome,
    *,
    dead_letter_to: str | None,
    **fields: Any,
) -> None:
    """The line every retry, dead-letter and drop gets, with the message id, the attempt, the
    delay (retries) and the reason: WARNING for a retry and a dead-letter (*dead_letter_to* names
    the destination), ERROR for a message dropped (``after_last_attempt="drop"``, or no
    dead-letter destination)."""
    if decision.verdict is Verdict.ACK:
        return
    if outcome.error is not None:
        fields["error"] = describe_exception(outcome.error)
    if decision.verdict is Verdict.RETRY:
        logger.warning(
            "message will be retried",
            message_id=message_id,
            attempt=decision.attempt,
            delay=round(decision.delay, 3),
            reason=decision.reason,
            **fields,
        )
    elif decision.verdict is Verdict.DEAD_LETTER and dead_letter_to:
        logger.warning(
            "message dead-lettered",
            message_id=message_id,
            attempt=decision.attempt,
            reason=decision.reason,
            dead_letter_to=dead_letter_to,
            **fields,
        )
    else:
        why = (
            "after_last_attempt is 'drop'"
            if decision.verdict is Verdict.DROP
            else "no dead-letter destination"
        )
        logger.error(
            f"message dropped ({why})",
            message_id=message_id,
            attempt=decision.attempt,
            reason=decision.reason,
            **fields,
        )
