"""The tree of options a service sets as its ``options`` class attribute.

Every key has a typed attribute with a default; see ``docs`` / the module tests for the full list.
Our defaults differ from the original library in two places: ``http.keepalive_timeout`` is 75 (keep-
alive is on; 0 turns it off and sends ``Connection: close``) and ``http.reuse_port`` is off, so a
port already in use is reported instead of silently shared by two processes (opt in to share).
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from tomodachi.envelope import DEFAULT_MAX_MESSAGE_SIZE
from tomodachi.errors import ConfigurationError, InvalidOptionError, mask_url_credentials

from . import checks as v
from ._base import OptionsInterface, _Field, option, subsection
from .sections import REGISTERED

S = TypeVar("S", bound=OptionsInterface)

__all__ = ["Options", "coerce_options", "grace_period_of"]

_IS_LINUX = sys.platform.startswith("linux")
_SQL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _check_schedule_cluster(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in ("redis", "postgres", "memory"):
        raise v.invalid(key, value, "one of 'redis', 'postgres', 'memory', or None")
    return value.lower()


class _MaskedDsn(str):
    """A connection URL whose ``repr`` masks its password (``postgresql://user:***@host``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return mask_url_credentials(str.__repr__(self))


def _check_dsn(key: str, value: Any) -> str | None:
    text = v.check_str_or_none(key, value)
    return None if text is None else _MaskedDsn(text)


def _check_sql_identifier(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _SQL_IDENTIFIER.match(value):
        raise v.invalid(
            key, value, "a plain SQL identifier (letters, digits and '_', not starting with a digit)"
        )
    return value


class Options(OptionsInterface):
    """All options of a service, grouped in sections.

    ``Options(http={"port": 8080}, **{"amqp.qos.queue_prefetch_count": 10})``; read and write with
    ``options.http.port``, ``options["http.port"]``, ``options["http"]["port"]`` or ``options.get()``.
    """

    # No `__slots__` here: the metaclass makes them from the declared keys (and mypy would then
    # reject assignments to the keys, which it sees as class attributes with defaults).

    class HTTP(OptionsInterface):
        _prefix = "http"

        port: int | None = option(9700, v.check_port_or_none)
        host: str | None = option("0.0.0.0", v.check_str_or_none)
        reuse_port: bool = option(False, v.check_bool)
        content_type: str = option("text/plain; charset=utf-8", v.check_str)
        charset: str = option("utf-8", v.check_str)
        client_max_size: int = option(100 * 1024 * 1024, v.check_client_max_size)
        termination_grace_period_seconds: int | float = option(30, v.number_check())
        access_log: bool | str = option(True, v.check_access_log)
        real_ip_from: list[str] = option([], v.check_real_ip_from)
        real_ip_header: str = option("X-Forwarded-For", v.check_str)
        keepalive_timeout: int | float = option(75, v.number_check())
        max_keepalive_time: int | float | None = option(None, v.number_check(positive=True, optional=True))
        max_keepalive_requests: int | None = option(None, v.int_check(1, optional=True))
        server_header: str = option("tomodachi", v.check_str)
        header_timeout: int | float = option(20, v.number_check())
        body_timeout: int | float = option(60, v.number_check())
        max_body_buffer: int = option(512 * 1024 * 1024, v.int_check(0))

        def _check(self) -> None:
            if self.keepalive_timeout > 0:
                return
            for name in ("max_keepalive_time", "max_keepalive_requests"):
                value = self[name]
                if value is not None:
                    raise ConfigurationError(
                        f"Invalid value for option 'http.{name}': {value!r} (it requires keep-alive, "
                        f"but 'http.keepalive_timeout' is {self.keepalive_timeout!r}: set it above 0)"
                    )

    class AWSSNSSQS(OptionsInterface):
        _prefix = "aws_sns_sqs"

        region_name: str | None = option(None, v.check_str_or_none)
        aws_access_key_id: str | None = option(None, v.check_str_or_none, secret=True)
        aws_secret_access_key: str | None = option(None, v.check_str_or_none, secret=True)
        topic_prefix: str = option("", v.check_prefix)
        queue_name_prefix: str = option("", v.check_prefix)
        sns_kms_master_key_id: str | bool | None = option(None, v.check_kms_key)
        sqs_kms_master_key_id: str | bool | None = option(None, v.check_kms_key)
        sqs_kms_data_key_reuse_period: int | None = option(None, v.int_check(0, optional=True))
        queue_policy: str | None = option(None, v.check_str_or_none)
        wildcard_queue_policy: str | None = option(None, v.check_str_or_none)
        # Added by us: where messages go ("memory" runs on the in-process broker, no AWS needed),
        # and whether the service creates its topology or only verifies that it exists.
        broker: str = option("aws", v.choice_check("aws", "memory"))
        manage_topology: bool = option(True, v.check_bool)
        # Added by us: a '<queue>-dlq' dead-letter queue for every handler that names none.
        dead_letter_queues: bool = option(False, v.check_bool)

    class AWSEndpointURLs(OptionsInterface):
        _prefix = "aws_endpoint_urls"

        sns: str | None = option(None, v.check_str_or_none)
        sqs: str | None = option(None, v.check_str_or_none)
        sts: str | None = option(None, v.check_str_or_none)

    class AMQP(OptionsInterface):
        _prefix = "amqp"

        class QOS(OptionsInterface):
            _prefix = "amqp.qos"

            queue_prefetch_count: int = option(100, v.int_check(0))
            global_prefetch_count: int = option(400, v.int_check(0))

        host: str = option("127.0.0.1", v.check_str)
        port: int = option(5672, v.int_check(1, 65535))
        login: str = option("guest", v.check_str)
        password: str = option("guest", v.check_str, secret=True)
        exchange_name: str = option("amq.topic", v.check_str)
        routing_key_prefix: str = option("", v.check_prefix)
        queue_name_prefix: str = option("", v.check_prefix)
        virtualhost: str = option("/", v.check_str)
        ssl: bool = option(False, v.check_bool)
        heartbeat: int = option(60, v.int_check(0))
        queue_ttl: int | None = option(86400, v.int_check(0, optional=True))
        qos: QOS = subsection(QOS)
        # Added by us: the in-process broker instead of RabbitMQ, and dead-lettering.
        broker: str = option("rabbitmq", v.choice_check("rabbitmq", "memory"))
        dead_letter_exchange: str | None = option(None, v.check_str_or_none)
        max_redeliveries: int | None = option(None, v.int_check(0, optional=True))
        dead_letter_queues: bool = option(False, v.check_bool)
        # Seconds a publish waits for the broker (reconnection, confirm) before AmqpPublishError.
        publish_timeout: int | float = option(10.0, v.number_check(positive=True))

    class Retry(OptionsInterface):
        """Added by us: the retry policy of every message handler that declares none (``retry=``)."""

        _prefix = "retry"

        max_attempts: int | None = option(10, v.int_check(1, optional=True))
        initial_delay: int | float = option(1.0, v.number_check())
        multiplier: int | float = option(2.0, v.check_multiplier)
        max_delay: int | float = option(300.0, v.number_check())
        jitter: bool = option(True, v.check_bool)
        retry_failures: bool = option(False, v.check_bool)
        after_last_attempt: str = option("dead_letter", v.choice_check("dead_letter", "drop"))

    class Ops(OptionsInterface):
        """Added by us: health, readiness and metrics endpoints (see docs/observability.md)."""

        _prefix = "ops"

        health: bool = option(False, v.check_bool)
        liveness_path: str = option("/health/live", v.check_url_path)
        readiness_path: str = option("/health/ready", v.check_url_path)
        metrics: bool = option(False, v.check_bool)
        metrics_path: str = option("/metrics", v.check_url_path)
        # None: on the service's HTTP server (http.port); a port: a separate ops server.
        port: int | None = option(None, v.check_ops_port)
        host: str = option("0.0.0.0", v.check_str)

    class Schedule(OptionsInterface):
        """Added by us: cluster-safe schedules (see docs/schedule.md#cluster-safe-schedules)."""

        _prefix = "schedule"

        # None: every replica runs its schedules; "redis", "postgres" or "memory": each due time
        # of the service's scheduled functions is claimed in that store and runs once in the fleet.
        cluster: str | None = option(None, _check_schedule_cluster)
        max_clock_skew: int | float = option(10.0, v.number_check(positive=True))
        postgres_dsn: str | None = option(None, _check_dsn)
        postgres_table: str = option("tomodachi_schedule_runs", _check_sql_identifier)

    class Watcher(OptionsInterface):
        _prefix = "watcher"

        ignored_dirs: list[str] = option([], v.check_str_list)
        watched_file_endings: list[str] = option([], v.check_str_list)

    http: HTTP = subsection(HTTP)
    aws_sns_sqs: AWSSNSSQS = subsection(AWSSNSSQS)
    aws_endpoint_urls: AWSEndpointURLs = subsection(AWSEndpointURLs)
    amqp: AMQP = subsection(AMQP)
    watcher: Watcher = subsection(Watcher)
    retry: Retry = subsection(Retry)
    ops: Ops = subsection(Ops)
    schedule: Schedule = subsection(Schedule)
    # Added by us: the grace period of every transport; None follows the original's key,
    # ``http.termination_grace_period_seconds``, as before. See grace_period_of().
    termination_grace_period_seconds: int | float | None = option(None, v.number_check(optional=True))
    # Added by us: the largest message payload, and the largest data decoded (inflated) from one,
    # that a message handler of any transport accepts; larger ones are settled as undecodable.
    max_message_size: int = option(DEFAULT_MAX_MESSAGE_SIZE, v.int_check(1))
    # Added by us: how long a transport start that fails because its broker cannot be reached
    # (yet) is retried, with backoff, before start-up fails; 0: not at all. See Transport.start_retryable.
    start_retry_seconds: int | float = option(0, v.number_check())

    # -- sections registered by transports (tomodachi.options.register_section) ------------------

    def section(self, kind: type[S]) -> S:
        """The registered section of class *kind*, typed: ``options.section(RedisOptions).url``.

        ``options.redis`` reads the same section (typed as ``Any`` for mypy). Raises
        ``InvalidOptionError`` when *kind* is not registered.
        """
        for name, field in REGISTERED.items():
            if field.section is kind:
                return cast(S, self._value(name))
        raise InvalidOptionError(
            f"Option section {kind.__qualname__} is not registered (see tomodachi.options.register_section)"
        )

    def _field_table(self) -> Mapping[str, _Field]:
        if not REGISTERED:
            return self._fields
        return {**self._fields, **REGISTERED}

    def _field(self, name: str) -> _Field | None:
        return self._fields.get(name) or REGISTERED.get(name)

    def _value(self, name: str) -> Any:
        if name in self._fields:
            return getattr(self, name)
        extra = self._extra
        value = extra.get(name) if extra is not None else None
        if value is None:  # a section registered after this Options was made: its defaults
            section = REGISTERED[name].section
            assert section is not None
            value = section()
            value._attach(self)
            self._store(name, value)
        return value

    def _store(self, name: str, value: Any) -> None:
        if name in self._fields:
            object.__setattr__(self, name, value)
        elif self._extra is None:
            object.__setattr__(self, "_extra", {name: value})
        else:
            self._extra[name] = value


def grace_period_of(options: Options) -> float:
    """Seconds in-flight work may take to finish after a stop request, for every transport.

    ``termination_grace_period_seconds`` when set; otherwise ``http.termination_grace_period_seconds``
    (the original's key, default 30), which is still honoured for compatibility.
    """
    neutral = options.termination_grace_period_seconds
    if neutral is not None:
        return float(neutral)
    return float(options.http.termination_grace_period_seconds)


def coerce_options(value: object, *, stacklevel: int = 2) -> Options:
    """The ``Options`` for a service's ``options`` attribute.

    An ``Options`` is returned as it is, ``None`` becomes ``Options()``, and a dict (deprecated) is
    converted with a ``DeprecationWarning``. ``stacklevel=1`` attributes the warning to the caller of
    this function, 2 (the default) to the caller's caller, and so on.
    """
    if isinstance(value, Options):
        return value
    if value is None:
        return Options()
    if isinstance(value, Mapping):
        warnings.warn(
            "A dict as the 'options' attribute is deprecated: use tomodachi.Options(...) instead",
            DeprecationWarning,
            stacklevel=stacklevel + 1,
        )
        return Options(value)
    raise ConfigurationError(
        f"Invalid value for 'options' attribute: {type(value).__name__} "
        "(expected a tomodachi.Options instance, or a dict)"
    )
