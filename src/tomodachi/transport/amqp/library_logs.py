"""Quiet the per-attempt log records aio-pika and aiormq write while a broker is unreachable.

They log every failed reconnection attempt (every few seconds while the broker is down) and, at
start-up, a refused connection; tomodachi reports the outage, the recovery and start-up failures
itself, once each (and a long outage once a minute, with the latest attempt's error, which this
filter keeps for it). The filter drops exactly those repeated records; anything else from the
libraries passes. It is attached to the library loggers when the first connection is made.
"""

from __future__ import annotations

import logging

__all__ = ["install_log_filter", "last_attempt_error", "reset_last_attempt_error"]

_NOISE = (
    ("aiormq.connection", "error when creating transport"),
    ("aiormq.connection", "Unexpected connection close from remote"),
    ("aiormq.connection", "Cancelling cause reader exited abnormally"),
    ("aio_pika.robust_connection", "Connection to %s closed"),
)
_ATTEMPT = ("aio_pika.robust_connection", "Connection attempt to")
#: The error of the latest failed reconnection attempt (what the dropped record said).
_last_attempt: list[BaseException] = []


def last_attempt_error() -> BaseException | None:
    """The error of the latest failed reconnection attempt (of any connection), if any."""
    return _last_attempt[-1] if _last_attempt else None


def reset_last_attempt_error() -> None:
    _last_attempt.clear()


class _ReconnectNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if not isinstance(msg, str):
            return True
        args = record.args
        if record.name == _ATTEMPT[0] and msg.startswith(_ATTEMPT[1]):
            if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], BaseException):
                _last_attempt[:] = [args[1]]
            return False
        if record.name == "aio_pika.tools":
            # A robust channel that tries to reopen itself while its connection is down.
            return not (
                msg.startswith("Callback %r error")
                and isinstance(args, tuple)
                and args
                and "RobustChannel._on_close" in repr(args[0])
            )
        return not any(record.name == name and msg.startswith(prefix) for name, prefix in _NOISE)


_FILTER = _ReconnectNoise("tomodachi.amqp.reconnect-noise")


def install_log_filter() -> None:
    """Attach the filter to the library loggers concerned (idempotent)."""
    for name in {"aio_pika.tools", _ATTEMPT[0], *(name for name, _prefix in _NOISE)}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
