"""The in-memory broker's delivery log is bounded, and still answers for the messages tracked."""

from __future__ import annotations

import gc
from typing import Any

import tomodachi
from tomodachi.envelope import JsonBase
from tomodachi.testing import run_services
from tomodachi.transport.memory.delivery_log import RECENT_ATTEMPTS, Attempt, DeliveryLog


def _attempt(
    *ids: str, result: str = "handled", handler: str = "h", error: BaseException | None = None
) -> Attempt:
    return Attempt(frozenset(ids), "svc", handler, 1, result, error=error)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_untracked_attempts_keep_only_the_recent_window() -> None:
    log = DeliveryLog(recent=5)
    for n in range(100):
        log.add(_attempt(f"m{n}"))
    assert [a.message_ids for a in log.attempts] == [frozenset({f"m{n}"}) for n in range(95, 100)]
    assert log.for_message("m0") == []  # fell out of the window
    assert [a.result for a in log.for_message("m99")] == ["handled"]


def test_a_tracked_message_keeps_its_attempts_past_the_window() -> None:
    log = DeliveryLog(recent=3)
    log.track("sns-1")
    log.add(_attempt("sns-1", "sqs-1", result="retry"))
    for n in range(50):
        log.add(_attempt(f"other{n}"))
    log.add(_attempt("sqs-1", handler="redrive:q", result="dead_lettered"))  # linked by the SQS id
    for n in range(50):
        log.add(_attempt(f"later{n}"))
    assert len(log.attempts) == 3
    assert [a.result for a in log.for_message("sns-1")] == ["retry", "dead_lettered"]
    assert [a.result for a in log.for_message("sqs-1")] == ["retry", "dead_lettered"]
    log.untrack("sns-1")
    assert log.tracked == 0 and log.for_message("sns-1") == []


def test_tracking_takes_over_attempts_already_in_the_window() -> None:
    log = DeliveryLog(recent=10)
    log.add(_attempt("sns-1", "sqs-1", result="retry"))
    log.add(_attempt("sqs-1", handler="redrive:q", result="dead_lettered"))
    log.track("sns-1")
    for n in range(20):
        log.add(_attempt(f"other{n}"))
    assert [a.result for a in log.for_message("sns-1")] == ["retry", "dead_lettered"]


def test_tracked_messages_and_their_attempts_are_bounded() -> None:
    log = DeliveryLog(recent=2, tracked=3, per_message=4)
    for n in range(10):
        log.track(f"m{n}")
    assert log.tracked == 3
    for n in range(10):
        log.add(_attempt("m9", result="retry" if n < 9 else "handled"))
    assert [a.result for a in log.for_message("m9")] == ["retry", "retry", "retry", "handled"]
    log.add(_attempt("m0"))  # no longer tracked: only in the recent window
    assert log.for_message("m0") == [log.attempts[-1]]
    # Two holders of one message: it stays tracked until both let go.
    log.track("m9")
    log.untrack("m9")
    assert len(log.for_message("m9")) == 4
    log.untrack("m9")
    assert log.tracked == 2


def test_errors_are_kept_without_their_traceback() -> None:
    log = DeliveryLog()
    original = _raised(ValueError("boom", 42))
    log.add(_attempt("m", result="dropped", error=original))
    kept = log.attempts[0].error
    assert isinstance(kept, ValueError) and kept.args == ("boom", 42)
    assert kept.__traceback__ is None
    assert original.__traceback__ is not None  # the handler's exception itself is left alone


class _Odd(Exception):
    def __init__(self, a: int, b: int) -> None:  # its args are not its constructor's arguments
        super().__init__(f"{a}/{b}")


def test_an_exception_that_cannot_be_copied_has_its_traceback_cleared() -> None:
    log = DeliveryLog()
    original = _raised(_Odd(1, 2))
    log.add(_attempt("m", result="dropped", error=original))
    kept = log.attempts[0].error
    assert kept is original and kept.__traceback__ is None and str(kept) == "1/2"


class _Failing(tomodachi.Service):
    name = "failing"
    message_envelope = JsonBase

    @tomodachi.amqp("work.fail")
    async def fail(self, data: Any) -> None:
        payload = "x" * 10_000  # a local of the failing frame: not kept by the log
        raise RuntimeError(f"failed {data['n']} ({len(payload)})")


async def test_a_long_run_keeps_the_log_bounded_and_outcomes_still_answer() -> None:
    async with run_services(_Failing, log_level="critical") as app:
        watched = await app.publish_amqp("work.fail", {"n": -1})
        for n in range(RECENT_ATTEMPTS + 200):
            await app.publish_amqp("work.fail", {"n": n})  # the Delivery is dropped: not tracked
        last = await app.publish_amqp("work.fail", {"n": "last"})
        await last.outcome()
        log = app.delivery_log  # the run's log (the broker keeps one of the same kind)
        assert len(log.attempts) == RECENT_ATTEMPTS
        assert log.tracked == 2
        report = await watched.outcome()  # long out of the recent window, still known
        assert report.result == "dropped" and len(report.attempts) == 1
        assert isinstance(report.attempts[0].error, RuntimeError)
        assert all(a.error is not None and a.error.__traceback__ is None for a in log.attempts)
        del watched, last, report
        gc.collect()
        assert log.tracked == 0
