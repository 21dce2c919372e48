"""RetryPolicy: the delays, the decisions and the declarations every message transport shares."""

from __future__ import annotations

from typing import Any

import pytest

import tomodachi
from tomodachi.errors import ConfigurationError
from tomodachi.messaging.pipeline import HANDLED, Outcome, Settle
from tomodachi.messaging.retry import RetryPolicy, Verdict, policy_for

RETRY = Outcome(Settle.RETRY, "retry requested", tomodachi.RetryMessage("later"))
FAILED = Outcome(Settle.DEAD_LETTER, "handler failed", ValueError("bug"))
TIMEOUT = Outcome(Settle.DEAD_LETTER, "handler failed", TimeoutError("provider down"))
REJECTED = Outcome(Settle.DEAD_LETTER, "rejected", tomodachi.RejectMessage("never"))
UNDECODABLE = Outcome(Settle.DEAD_LETTER, "undecodable", ValueError("not json"))


def test_the_default_backs_off_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(jitter=False)
    assert [policy.delay(n) for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]


def test_jitter_waits_between_half_the_delay_and_the_delay() -> None:
    policy = RetryPolicy(initial_delay=10, multiplier=1)
    assert policy.delay(3, rng=lambda: 0.0) == 5.0
    assert policy.delay(3, rng=lambda: 0.999) == pytest.approx(9.995)


def test_the_default_survives_a_30_second_outage_in_its_attempts() -> None:
    # Even with the shortest jittered waits, ten attempts span far more than 30 s.
    policy = RetryPolicy()
    waited = sum(policy.delay(n, rng=lambda: 0.0) for n in range(1, policy.max_attempts or 0))
    assert waited > 30


def test_decisions_by_outcome() -> None:
    policy = RetryPolicy(jitter=False)
    assert policy.decide(HANDLED, 1).verdict is Verdict.ACK
    retry = policy.decide(RETRY, 3)
    assert (retry.verdict, retry.delay, retry.attempt) == (Verdict.RETRY, 4.0, 3)
    for outcome in (FAILED, REJECTED, UNDECODABLE):  # never retried by default
        assert policy.decide(outcome, 1).verdict is Verdict.DEAD_LETTER


def test_the_last_attempt_dead_letters_or_drops() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.decide(RETRY, 2).verdict is Verdict.RETRY
    last = policy.decide(RETRY, 3)
    assert last.verdict is Verdict.DEAD_LETTER and last.exhausted
    assert last.reason == "retry requested; retries exhausted"
    dropped = RetryPolicy(max_attempts=3, after_last_attempt="drop").decide(RETRY, 3)
    assert dropped.verdict is Verdict.DROP and dropped.exhausted


def test_which_failures_retry() -> None:
    assert RetryPolicy(retry_on=(TimeoutError,)).decide(TIMEOUT, 1).verdict is Verdict.RETRY
    assert RetryPolicy(retry_on=(TimeoutError,)).decide(FAILED, 1).verdict is Verdict.DEAD_LETTER
    everything = RetryPolicy(retry_failures=True)
    assert everything.decide(FAILED, 1).verdict is Verdict.RETRY
    assert everything.decide(REJECTED, 1).verdict is Verdict.DEAD_LETTER
    assert everything.decide(UNDECODABLE, 1).verdict is Verdict.DEAD_LETTER


def test_the_originals_internal_service_errors_retry() -> None:
    from tomodachi.transport.amqp import AmqpInternalServiceError
    from tomodachi.transport.aws_sns_sqs import AWSSNSSQSInternalServiceError

    for error in (AmqpInternalServiceError("x"), AWSSNSSQSInternalServiceError("x")):
        assert isinstance(error, tomodachi.RetryMessage)


def test_immediate_is_the_originals_requeue_forever() -> None:
    policy = RetryPolicy.immediate()
    decision = policy.decide(RETRY, 10_000)
    assert (decision.verdict, decision.delay) == (Verdict.RETRY, 0.0)
    assert RetryPolicy.immediate(max_attempts=2).decide(RETRY, 2).verdict is Verdict.DEAD_LETTER


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_attempts": 0}, "max_attempts must be an integer >= 1 or None"),
        ({"initial_delay": -1}, "initial_delay must be a number of seconds >= 0"),
        ({"multiplier": 0.5}, "multiplier must be a number >= 1"),
        ({"after_last_attempt": "requeue"}, "after_last_attempt must be 'dead_letter' or 'drop'"),
        ({"retry_on": ("TimeoutError",)}, "retry_on must be exception classes"),
    ],
)
def test_a_bad_policy_is_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy(**kwargs)


def test_the_service_options_are_the_default_policy() -> None:
    class Billing(tomodachi.Service):
        name = "billing"
        options = tomodachi.Options(
            retry={"max_attempts": 4, "initial_delay": 0.5, "after_last_attempt": "drop"}
        )

    policy = policy_for(Billing(), None, where="handler")
    assert (policy.max_attempts, policy.initial_delay, policy.after_last_attempt) == (4, 0.5, "drop")
    declared = RetryPolicy(max_attempts=2)
    assert policy_for(Billing(), declared, where="handler") is declared


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("retry.max_attempts", 0, "an integer >= 1 or None"),
        ("retry.multiplier", 0.5, "a number >= 1"),
        ("retry.after_last_attempt", "retry", "one of 'dead_letter', 'drop'"),
    ],
)
def test_bad_retry_options_are_clear_errors(key: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        tomodachi.Options(**{key: value})


async def test_a_retry_that_is_not_a_policy_fails_the_start() -> None:
    from tomodachi.container import StartupError
    from tomodachi.testing import run_services

    class Wrong(tomodachi.Service):
        name = "wrong"

        @tomodachi.amqp("x", retry=5)  # type: ignore[arg-type]
        async def on_x(self, data: Any) -> None:
            pass

    with pytest.raises(
        StartupError, match=r"wrong: @amqp handler 'on_x': retry must be a tomodachi\.RetryPolicy, got 5$"
    ):
        async with run_services(Wrong):
            pass
