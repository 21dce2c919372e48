"""The tree of options a service sets as its ``options`` class attribute.

Every key has a typed attribute with a default; see ``docs`` / the module tests for the full list.
Our defaults differ from the original library in two places: ``http.keepalive_timeout`` is 75 (keep-
alive is on; 0 turns it off and sends ``Connection: close``) and ``http.reuse_port`` is off, so a
port already in use is reported instead of silently shared by two processes (opt in to share).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping

from tomodachi.errors import ConfigurationError

from . import _validators as v
from ._base import OptionsInterface, _opt, _section

__all__ = ["Options", "coerce_options", "grace_period_of"]

_IS_LINUX = sys.platform.startswith("linux")


class Options(OptionsInterface):
    """All options of a service, grouped in sections.

    ``Options(http={"port": 8080}, **{"amqp.qos.queue_prefetch_count": 10})``; read and write with
    ``options.http.port``, ``options["http.port"]``, ``options["http"]["port"]`` or ``options.get()``.
    """

    # No `__slots__` here: the metaclass makes them from the declared keys (and mypy would then
    # reject assignments to the keys, which it sees as class attributes with defaults).

    class HTTP(OptionsInterface):
        _prefix = "http"

        port: int | None = _opt(9700, v.check_port_or_none)
        host: str | None = _opt("0.0.0.0", v.check_str_or_none)
        reuse_port: bool = _opt(False, v.check_bool)
        content_type: str = _opt("text/plain; charset=utf-8", v.check_str)
        charset: str = _opt("utf-8", v.check_str)
        client_max_size: int = _opt(100 * 1024 * 1024, v.check_client_max_size)
        termination_grace_period_seconds: int | float = _opt(30, v.number_check())
        access_log: bool | str = _opt(True, v.check_access_log)
        real_ip_from: list[str] = _opt([], v.check_real_ip_from)
        real_ip_header: str = _opt("X-Forwarded-For", v.check_str)
        keepalive_timeout: int | float = _opt(75, v.number_check())
        max_keepalive_time: int | float | None = _opt(None, v.number_check(positive=True, optional=True))
        max_keepalive_requests: int | None = _opt(None, v.int_check(1, optional=True))
        server_header: str = _opt("tomodachi", v.check_str)

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

        region_name: str | None = _opt(None, v.check_str_or_none)
        aws_access_key_id: str | None = _opt(None, v.check_str_or_none)
        aws_secret_access_key: str | None = _opt(None, v.check_str_or_none)
        topic_prefix: str = _opt("", v.check_prefix)
        queue_name_prefix: str = _opt("", v.check_prefix)
        sns_kms_master_key_id: str | bool | None = _opt(None, v.check_kms_key)
        sqs_kms_master_key_id: str | bool | None = _opt(None, v.check_kms_key)
        sqs_kms_data_key_reuse_period: int | None = _opt(None, v.int_check(0, optional=True))
        queue_policy: str | None = _opt(None, v.check_str_or_none)
        wildcard_queue_policy: str | None = _opt(None, v.check_str_or_none)
        # Added by us: where messages go ("memory" runs on the in-process broker, no AWS needed),
        # and whether the service creates its topology or only verifies that it exists.
        broker: str = _opt("aws", v.choice_check("aws", "memory"))
        manage_topology: bool = _opt(True, v.check_bool)

    class AWSEndpointURLs(OptionsInterface):
        _prefix = "aws_endpoint_urls"

        sns: str | None = _opt(None, v.check_str_or_none)
        sqs: str | None = _opt(None, v.check_str_or_none)
        sts: str | None = _opt(None, v.check_str_or_none)

    class AMQP(OptionsInterface):
        _prefix = "amqp"

        class QOS(OptionsInterface):
            _prefix = "amqp.qos"

            queue_prefetch_count: int = _opt(100, v.int_check(0))
            global_prefetch_count: int = _opt(400, v.int_check(0))

        host: str = _opt("127.0.0.1", v.check_str)
        port: int = _opt(5672, v.int_check(1, 65535))
        login: str = _opt("guest", v.check_str)
        password: str = _opt("guest", v.check_str)
        exchange_name: str = _opt("amq.topic", v.check_str)
        routing_key_prefix: str = _opt("", v.check_prefix)
        queue_name_prefix: str = _opt("", v.check_prefix)
        virtualhost: str = _opt("/", v.check_str)
        ssl: bool = _opt(False, v.check_bool)
        heartbeat: int = _opt(60, v.int_check(0))
        queue_ttl: int | None = _opt(86400, v.int_check(0, optional=True))
        qos: QOS = _section(QOS)
        # Added by us: the in-process broker instead of RabbitMQ, and dead-lettering.
        broker: str = _opt("rabbitmq", v.choice_check("rabbitmq", "memory"))
        dead_letter_exchange: str | None = _opt(None, v.check_str_or_none)
        max_redeliveries: int | None = _opt(None, v.int_check(0, optional=True))
        # Seconds a publish waits for the broker (reconnection, confirm) before AmqpPublishError.
        publish_timeout: int | float = _opt(10.0, v.number_check(positive=True))

    class Watcher(OptionsInterface):
        _prefix = "watcher"

        ignored_dirs: list[str] = _opt([], v.check_str_list)
        watched_file_endings: list[str] = _opt([], v.check_str_list)

    http: HTTP = _section(HTTP)
    aws_sns_sqs: AWSSNSSQS = _section(AWSSNSSQS)
    aws_endpoint_urls: AWSEndpointURLs = _section(AWSEndpointURLs)
    amqp: AMQP = _section(AMQP)
    watcher: Watcher = _section(Watcher)
    # Added by us: the grace period of every transport; None follows the original's key,
    # ``http.termination_grace_period_seconds``, as before. See grace_period_of().
    termination_grace_period_seconds: int | float | None = _opt(None, v.number_check(optional=True))


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
