"""The ``redis.*`` option section and the ``redis`` message family.

Registered at import (``tomodachi.options.register_section``), so services write
``Options(redis={"url": "redis://cache:6379/0", "concurrency": 20})`` or set ``redis.*`` keys in
``-c`` config files. Every key, its default and meaning: ``docs/redis.md``.
"""

from __future__ import annotations

from typing import Any

from tomodachi.errors import ConfigurationError, mask_url_credentials
from tomodachi.messaging.backend import register_message_family
from tomodachi.options import OptionsInterface, checks, option, register_section, subsection

__all__ = ["REDIS_FAMILY", "MaskedUrl", "RedisOptions", "settings_of"]


class MaskedUrl(str):
    """A URL whose ``repr`` masks its password (``redis://user:***@host``): options reprs, logs."""

    __slots__ = ()

    def __repr__(self) -> str:
        return mask_url_credentials(str.__repr__(self))


def _check_url(key: str, value: Any) -> MaskedUrl:
    text = checks.check_str(key, value)
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise checks.invalid(key, value, "a redis://, rediss:// or unix:// URL")
    return MaskedUrl(text)


def _check_sentinels(key: str, value: Any) -> list[str]:
    items: list[str] = checks.check_str_list(key, value)
    for item in items:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise checks.invalid(key, value, "a list of 'host:port' strings")
    return items


class RedisOptions(OptionsInterface):
    """``redis.*``: the connection and the queue settings of ``@tomodachi.redis_queue``."""

    class Pool(OptionsInterface):
        #: Connections per run and URL (per node on a cluster); each handler's blocking read holds one.
        size: int = option(50, checks.int_check(2))
        #: Seconds a command waits for a free connection of the pool.
        timeout: int | float = option(10.0, checks.number_check(positive=True))

    class Tls(OptionsInterface):
        #: TLS to Redis (also implied by a ``rediss://`` URL).
        enabled: bool = option(False, checks.check_bool)
        #: A CA bundle to verify the server with (default: the system's).
        ca_certs: str | None = option(None, checks.check_str_or_none)
        #: A client certificate and key (mutual TLS).
        certfile: str | None = option(None, checks.check_str_or_none)
        keyfile: str | None = option(None, checks.check_str_or_none)
        #: Verify the server's certificate and name.
        verify: bool = option(True, checks.check_bool)

    # -- connection ------------------------------------------------------------------------
    url: str = option(MaskedUrl("redis://127.0.0.1:6379/0"), _check_url)
    #: Overrides the URL's password (kept out of the URL, masked in reprs and errors).
    password: str | None = option(None, checks.check_str_or_none, secret=True)
    #: ``standalone``, ``cluster`` (the URL names one node) or ``sentinel`` (see ``sentinels``).
    mode: str = option("standalone", checks.choice_check("standalone", "cluster", "sentinel"))
    sentinels: list[str] = option([], _check_sentinels)
    sentinel_master: str = option("mymaster", checks.check_str)
    #: ``CLIENT SETNAME`` of every connection (``CLIENT LIST`` shows it).
    client_name: str = option("tomodachi", checks.check_str)
    #: Seconds a command may take on the socket (a blocking read waits at most ``poll_interval``).
    socket_timeout: int | float = option(10.0, checks.number_check(positive=True))
    connect_timeout: int | float = option(5.0, checks.number_check(positive=True))
    pool: Pool = subsection(Pool)
    tls: Tls = subsection(Tls)
    #: ``redis`` or ``memory`` (the in-memory model; also ``--message-broker memory``).
    broker: str = option("redis", checks.choice_check("redis", "memory"))

    # -- queues ----------------------------------------------------------------------------
    #: Every key starts with it; the queue name is a hash tag (``tomodachi:{emails}``).
    key_prefix: str = option("tomodachi:", checks.check_str)
    #: Messages in flight per handler (per service instance).
    concurrency: int = option(10, checks.int_check(1))
    #: Seconds a delivered message may stay unacknowledged by a silent consumer before another
    #: consumer of the group reclaims it (``XAUTOCLAIM``; counted as an attempt). A running
    #: handler keeps its messages (their idle time is reset every third of this).
    claim_idle: int | float = option(60.0, checks.number_check(positive=True))
    #: The longest a read blocks; delayed messages that are due are moved in at least this often.
    poll_interval: int | float = option(1.0, checks.number_check(positive=True))
    #: ``MAXLEN ~`` of each queue stream (``None``: unbounded). Past it Redis drops the oldest
    #: entries, read or not: a cap, not a substitute for consumers.
    maxlen: int | None = option(None, checks.int_check(1, optional=True))
    #: Seconds between trims of entries every group has acknowledged (``XTRIM MINID``); 0: never.
    trim_interval: int | float = option(10.0, checks.number_check())
    #: A dead-letter stream per queue and group; ``False``: failed messages are dropped (logged).
    dead_letters: bool = option(True, checks.check_bool)
    #: ``MAXLEN ~`` of the dead-letter streams (``None``: unbounded).
    dead_letter_maxlen: int | None = option(None, checks.int_check(1, optional=True))
    #: The longest wait between two reconnection attempts, in seconds.
    reconnect_delay_max: int | float = option(5.0, checks.number_check(positive=True))
    #: Seconds ``redis_enqueue`` keeps trying while Redis is unreachable before it raises.
    enqueue_timeout: int | float = option(10.0, checks.number_check(positive=True))

    def _check(self) -> None:
        if self.mode == "sentinel" and not self.sentinels:
            raise ConfigurationError(
                "Invalid option 'redis.sentinels': mode 'sentinel' needs at least one 'host:port'"
            )
        if self.socket_timeout <= self.poll_interval:
            raise ConfigurationError(
                f"Invalid option 'redis.socket_timeout': {self.socket_timeout!r} (expected more than "
                f"redis.poll_interval, {self.poll_interval!r}: a blocking read would time out)"
            )


register_section("redis", RedisOptions)

#: ``redis.broker = "memory"`` (or ``--message-broker memory``) runs ``@redis_queue`` in memory.
REDIS_FAMILY = register_message_family("redis", broker_option="redis.broker")


def settings_of(service: Any) -> RedisOptions:
    """The ``redis`` section of *service*'s options (defaults for an object without options)."""
    options = getattr(service, "options", None)
    if options is None:
        return RedisOptions()
    section: RedisOptions = options.section(RedisOptions)
    return section
