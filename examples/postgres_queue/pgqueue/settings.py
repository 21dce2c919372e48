"""The ``pg_queue`` option section and which store a service uses.

The section is registered when this module is imported (so before a service class body builds
``Options(pg_queue={...})``): every service then has ``options.pg_queue``, validated like the
built-in sections, with did-you-mean errors for unknown keys, and settable from ``-c`` files.
``tomodachi run --message-broker memory`` (and ``tomodachi.testing``, which runs on the
in-memory broker by default) or ``pg_queue.broker = "memory"`` select the in-memory store.
"""

from __future__ import annotations

import re
from typing import Any

import tomodachi
from tomodachi.messaging.backend import MEMORY, register_message_family
from tomodachi.options import OptionsInterface, checks, option, register_section

__all__ = ["PG_QUEUE", "PgQueueOptions", "settings_of"]

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")


def _check_table(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise checks.invalid(key, value, "a table name of lower-case letters, digits and '_' (at most 51)")
    return value


_seconds = checks.number_check(positive=True)


class PgQueueOptions(OptionsInterface):
    """The ``pg_queue.*`` options."""

    #: libpq connection string of the database holding the jobs (hidden in ``repr``).
    dsn: str = option("postgresql://postgres@127.0.0.1:5432/postgres", checks.check_str, secret=True)
    #: The jobs table (created at start when ``create_table``); dead jobs stay in it.
    table: str = option("tomodachi_jobs", _check_table)
    create_table: bool = option(True, checks.check_bool)
    #: ``"postgres"``, or ``"memory"`` for the in-memory store.
    broker: str = option("postgres", checks.choice_check("postgres", MEMORY))
    #: Kept for compatibility: when set, a handler without its own ``retry=`` tries a job this
    #: many times (the ``max_attempts`` of the service's ``retry`` options is replaced). The
    #: delays between tries are the ``retry`` options' (see docs/retries.md).
    max_attempts: int | None = option(None, checks.int_check(1, optional=True))
    #: Jobs handled at once per service instance.
    concurrency: int = option(10, checks.int_check(1))
    #: A claimed job is runnable again after this long if its consumer died (extended while it runs).
    lock_seconds: float = option(60.0, _seconds)
    #: Without a notification, look for due jobs (delayed ones, expired locks) this often at least.
    poll_interval: float = option(5.0, _seconds)
    #: The longest pause between reconnection attempts while the database is unreachable.
    reconnect_delay_max: float = option(10.0, _seconds)


register_section("pg_queue", PgQueueOptions)
#: The message family: ``--message-broker memory`` and ``tomodachi.testing`` (by default) switch it
#: to the in-memory store, as does ``pg_queue.broker = "memory"`` for one service.
PG_QUEUE = register_message_family("pg_queue", broker_option="pg_queue.broker")


def settings_of(service: Any) -> PgQueueOptions:
    """The ``pg_queue`` options of *service*."""
    options = getattr(service, "options", None)
    if isinstance(options, tomodachi.Options):
        return options.section(PgQueueOptions)
    return PgQueueOptions()
