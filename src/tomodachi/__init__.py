"""tomodachi: a microservice framework for asyncio.

Only light names are imported eagerly; transports (and their dependencies such as aiohttp)
are imported the first time one of their names is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tomodachi.__version__ import __build_time__, __version__, __version_info__
from tomodachi.decorator import decorator
from tomodachi.entrypoint import declare
from tomodachi.errors import ConfigurationError, ServiceStartError, TomodachiError
from tomodachi.runtime import Runtime, ServiceRecord, get_service, get_services, runtime_of
from tomodachi.service import Service, exit, service
from tomodachi.transport.base import Handler, Transport

if TYPE_CHECKING:
    from tomodachi.context_vars import context, get_contextvar
    from tomodachi.execution_context import (
        decrease_execution_context_value,
        get_execution_context,
        increase_execution_context_value,
        set_execution_context,
    )
    from tomodachi.logging import Logger, LoggerProtocol, get_logger
    from tomodachi.messaging.errors import RejectMessage, RetryMessage
    from tomodachi.messaging.retry import RetryPolicy
    from tomodachi.options import Options, OptionsInterface
    from tomodachi.service_meta import CLASS_ATTRIBUTE, TOMODACHI_CLASSES, TomodachiServiceMeta
    from tomodachi.transport.amqp import amqp, amqp_publish
    from tomodachi.transport.aws_sns_sqs import (
        aws_sns_sqs,
        aws_sns_sqs_publish,
        aws_sns_sqs_send_message,
        awssnssqs,
        awssnssqs_publish,
        awssnssqs_send_message,
        sns_publish,
        sqs_send_message,
    )
    from tomodachi.transport.graphql import (
        graphql_field,
        graphql_mutation,
        graphql_query,
        graphql_subscription,
    )
    from tomodachi.transport.http import (
        HttpException,
        HttpResponse,
        get_forwarded_remote_ip,
        get_http_response_status,
        http,
        http_error,
        http_static,
        websocket,
        ws,
    )
    from tomodachi.transport.redis import redis_enqueue, redis_queue
    from tomodachi.transport.schedule import (
        daily,
        every_second,
        heartbeat,
        hourly,
        minutely,
        monthly,
        schedule,
        scheduler,
    )

__author__ = "tomodachi contributors"
__email__ = ""

#: The exit code a run ends with when nothing failed; ``tomodachi.SERVICE_EXIT_CODE`` is reset to it
#: when a run starts.
DEFAULT_SERVICE_EXIT_CODE = 0
#: The process exit code of a run that ended normally (after a signal or ``tomodachi.exit()``).
#: Writable: service code may set it (``tomodachi.exit(n)`` sets it to *n*); a failure to import,
#: initialise or start a service exits 1 whatever it holds.
SERVICE_EXIT_CODE = DEFAULT_SERVICE_EXIT_CODE

get_instance = get_service

_LAZY: dict[str, str] = {
    "Options": "tomodachi.options",
    "OptionsInterface": "tomodachi.options",
    "Logger": "tomodachi.logging",
    "LoggerProtocol": "tomodachi.logging",
    "get_logger": "tomodachi.logging",
    "http": "tomodachi.transport.http",
    "http_error": "tomodachi.transport.http",
    "http_static": "tomodachi.transport.http",
    "websocket": "tomodachi.transport.http",
    "ws": "tomodachi.transport.http",
    "HttpException": "tomodachi.transport.http",
    "HttpResponse": "tomodachi.transport.http",
    "get_http_response_status": "tomodachi.transport.http",
    "get_http_response_status_sync": "tomodachi.transport.http",
    "get_forwarded_remote_ip": "tomodachi.transport.http",
    "graphql_query": "tomodachi.transport.graphql",
    "graphql_mutation": "tomodachi.transport.graphql",
    "graphql_subscription": "tomodachi.transport.graphql",
    "graphql_field": "tomodachi.transport.graphql",
    "schedule": "tomodachi.transport.schedule",
    "scheduler": "tomodachi.transport.schedule",
    "heartbeat": "tomodachi.transport.schedule",
    "every_second": "tomodachi.transport.schedule",
    "minutely": "tomodachi.transport.schedule",
    "hourly": "tomodachi.transport.schedule",
    "daily": "tomodachi.transport.schedule",
    "monthly": "tomodachi.transport.schedule",
    "amqp": "tomodachi.transport.amqp",
    "amqp_publish": "tomodachi.transport.amqp",
    "aws_sns_sqs": "tomodachi.transport.aws_sns_sqs",
    "awssnssqs": "tomodachi.transport.aws_sns_sqs",
    "aws_sns_sqs_publish": "tomodachi.transport.aws_sns_sqs",
    "awssnssqs_publish": "tomodachi.transport.aws_sns_sqs",
    "sns_publish": "tomodachi.transport.aws_sns_sqs",
    "aws_sns_sqs_send_message": "tomodachi.transport.aws_sns_sqs",
    "awssnssqs_send_message": "tomodachi.transport.aws_sns_sqs",
    "sqs_send_message": "tomodachi.transport.aws_sns_sqs",
    "redis_queue": "tomodachi.transport.redis",
    "redis_enqueue": "tomodachi.transport.redis",
    "RetryMessage": "tomodachi.messaging.errors",
    "RejectMessage": "tomodachi.messaging.errors",
    "RetryPolicy": "tomodachi.messaging.retry",
    # Names kept from the original (docs/compatibility.md, "Public names kept from the original").
    "get_contextvar": "tomodachi.context_vars",
    "context": "tomodachi.context_vars",
    "set_execution_context": "tomodachi.execution_context",
    "get_execution_context": "tomodachi.execution_context",
    "increase_execution_context_value": "tomodachi.execution_context",
    "decrease_execution_context_value": "tomodachi.execution_context",
    "TOMODACHI_CLASSES": "tomodachi.service_meta",
    "CLASS_ATTRIBUTE": "tomodachi.service_meta",
    "TomodachiServiceMeta": "tomodachi.service_meta",
}

#: Subpackages reachable as attributes (``tomodachi.envelope.JsonBase``) without importing them up front.
_SUBMODULES = frozenset(
    {
        "envelope",
        "protocol",
        "testing",
        "transport",
        "options",
        "logging",
        "messaging",
        "clock",
        "cli",
        "dlq",
        "discovery",
        "invoker",
        "validation",
        "container",
        "importer",
        "runner",
    }
)

__all__ = [
    "CLASS_ATTRIBUTE",
    "DEFAULT_SERVICE_EXIT_CODE",
    "SERVICE_EXIT_CODE",
    "TOMODACHI_CLASSES",
    "ConfigurationError",
    "Handler",
    "HttpException",
    "HttpResponse",
    "Logger",
    "LoggerProtocol",
    "Options",
    "OptionsInterface",
    "RejectMessage",
    "RetryMessage",
    "RetryPolicy",
    "Runtime",
    "Service",
    "ServiceRecord",
    "ServiceStartError",
    "TomodachiError",
    "TomodachiServiceMeta",
    "Transport",
    "__build_time__",
    "__version__",
    "__version_info__",
    "amqp",
    "amqp_publish",
    "aws_sns_sqs",
    "aws_sns_sqs_publish",
    "aws_sns_sqs_send_message",
    "awssnssqs",
    "awssnssqs_publish",
    "awssnssqs_send_message",
    "context",
    "daily",
    "declare",
    "decorator",
    "decrease_execution_context_value",
    "every_second",
    "exit",
    "get_contextvar",
    "get_execution_context",
    "get_forwarded_remote_ip",
    "get_http_response_status",
    "get_instance",
    "get_logger",
    "get_service",
    "get_services",
    "graphql_field",
    "graphql_mutation",
    "graphql_query",
    "graphql_subscription",
    "heartbeat",
    "hourly",
    "http",
    "http_error",
    "http_static",
    "increase_execution_context_value",
    "minutely",
    "monthly",
    "redis_enqueue",
    "redis_queue",
    "run",
    "runtime_of",
    "schedule",
    "scheduler",
    "service",
    "set_execution_context",
    "sns_publish",
    "sqs_send_message",
    "websocket",
    "ws",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None and name in _SUBMODULES:
        module = importlib.import_module(f"tomodachi.{name}")
        globals()[name] = module
        return module
    if module_name is None:
        raise AttributeError(f"module 'tomodachi' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def run(app: str | list[str] | None = None, *args: str, **kwargs: Any) -> None:
    """Run service files programmatically, like ``tomodachi run``; always ends with ``SystemExit``.

    Keyword arguments become flags (``production=True`` -> ``--production``,
    ``log_level="debug"`` -> ``--log-level debug``, ``reload=False`` -> ``--no-reload``). Without
    *app*, the calling module's file runs.
    """
    import inspect
    import sys

    from tomodachi.cli import cli_entrypoint

    if app is None:
        frame = inspect.stack()[1]
        app = frame.filename
    files = [app] if isinstance(app, str) else list(app)
    argv = ["tomodachi", "run", *files, *args]
    for key, value in kwargs.items():
        flag = "--" + key.replace("_", "-")
        if value is True or value is None:
            argv.append(flag)
        elif value is False and key == "reload":
            argv.append("--no-reload")
        elif isinstance(value, (list, tuple)):  # config=["a.json", "b.json"]
            argv.extend([flag, *(str(item) for item in value)])
        elif value is not False:
            argv.extend([flag, str(value)])
    cli_entrypoint(argv)
    sys.exit(0)  # pragma: no cover - cli_entrypoint always exits
