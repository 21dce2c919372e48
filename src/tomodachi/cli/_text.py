"""The texts of the ``tomodachi`` command: usage, version, dependency versions, usage errors."""

from __future__ import annotations

from tomodachi.__version__ import __version__

__all__ = ["HELP_HINT", "dependency_versions", "usage_error_text", "usage_text", "version_text"]

HELP_HINT = "use the '--help' option for cli usage help."

#: Distributions listed by ``tomodachi --dependency-versions``: required ones always, optional
#: ones only when installed. Looked up with importlib.metadata; nothing is imported.
_REQUIRED = ("aiohttp", "structlog")
_OPTIONAL = ("uvloop", "aio-pika", "aiobotocore", "botocore", "protobuf", "orjson", "opentelemetry-api")


def version_text() -> str:
    return f"tomodachi {__version__}"


def usage_text() -> str:
    return f"""\
Usage: tomodachi run [options] <service.py ...>

Runs the services defined in one or more service files, all in one process and one event loop.
'start' and 'go' are synonyms of 'run'. Options may appear anywhere after 'run'.

Options:
  --production                  Production mode: no code reload, no start-up banner, and
                                production defaults for transports that have them (GraphQL: no
                                introspection, no GraphiQL page).
                                env: TOMODACHI_PRODUCTION (true unless 0/no/none/false/off/empty)
  --reload, --no-reload         Restart the services when a watched file changes (.py .pyi .json
                                .yml .yaml .toml .ini .cfg .html .phtml below the working
                                directory, the service files' directories and PYTHONPATH; not in
                                .git, __pycache__, virtualenvs, node_modules, ...). On by default,
                                off with --production. env: TOMODACHI_RELOAD (1/0)
  --host <host>, --port <port>  Set http.host / http.port of every service of the run.
                                env: TOMODACHI_HOST, TOMODACHI_PORT
  --workers <N|auto>            Run the services in N worker processes (auto: one per core) that
                                share the HTTP port(s) (SO_REUSEPORT) under one supervisor, which
                                passes signals on and restarts a crashed worker. Default 1: the
                                services run in this process. env: TOMODACHI_WORKERS
  --opentelemetry-instrument    OpenTelemetry traces, metrics and log correlation, configured by
                                the OTEL_* variables (needs tomodachi[opentelemetry]).
                                env: TOMODACHI_OPENTELEMETRY_INSTRUMENT (1/0)
  --loop <auto|asyncio|uvloop>  The event loop: 'auto' (default) uses uvloop when it is installed,
                                else asyncio. Aliases: default; aio, async; libuv, uv.
                                env: TOMODACHI_LOOP
  -l, --log, --log-level <level>
                                Minimum log level: debug, info (default), warning, error, critical.
                                env: TOMODACHI_LOG_LEVEL
  --logger <type>               Log output: console (default, colours on a terminal), json, python
                                (stdlib logging format) or disabled.
                                env: TOMODACHI_LOGGER
  --custom-logger <module.attr> Send log records to a custom logger factory (a module, a class or
                                an object with new(), bind() or get_logger()); implies --logger
                                custom. env: TOMODACHI_CUSTOM_LOGGER
  --message-broker <memory|default>
                                'memory' runs every @amqp and @aws_sns_sqs handler (and the publish
                                functions) on the in-process broker: no RabbitMQ or AWS needed;
                                services in one run exchange messages. 'default' follows the
                                amqp.broker / aws_sns_sqs.broker options.
                                env: TOMODACHI_MESSAGE_BROKER
  -c, --config <file.json ...>  JSON files, deep-merged in order (objects merged, lists joined,
                                other values replaced). Each top-level key is set as an attribute
                                of every service; the "options" key updates the service options.
                                The first value after -c is always a config file; more follow
                                while they end in ".json".
  -h, --help                    Show this help.

  An option on the command line wins over its environment variable.

Other commands:
  tomodachi dlq list|show|redrive [options] <service.py> ...
                                Inspect and re-drive the dead letters of @amqp and @aws_sns_sqs
                                handlers (RabbitMQ, SQS); 'tomodachi dlq --help' for more.
  tomodachi --version           Print the tomodachi version (also -v, -V).
  tomodachi --dependency-versions
                                Print the versions of installed dependencies (also --dependencies,
                                --deps).
  tomodachi --help              Show this help.

Examples:
  $ tomodachi run service.py
  $ tomodachi run --loop uvloop --log-level debug --logger json orders.py payments.py

Colours are used only on a terminal, and never when NO_COLOR or TOMODACHI_NO_COLOR is set.

ver {__version__}
"""


def usage_error_text(message: str, details: tuple[str, ...] = (), *, invalid_command: bool = False) -> str:
    lines = []
    if invalid_command:
        lines.append("error: invalid command or combination of command options.")
    lines.append(f"error: {message}")
    if details:
        lines.append("")
        lines.extend(details)
    lines.extend(["", "---", "", HELP_HINT, "$ tomodachi --help"])
    return "\n".join(lines) + "\n"


def dependency_versions() -> list[str]:
    """``name/version`` lines for the required and the installed optional dependencies."""
    from importlib.metadata import PackageNotFoundError, version

    lines = []
    for name in (*_REQUIRED, *_OPTIONAL):
        try:
            lines.append(f"{name}/{version(name)}")
        except PackageNotFoundError:
            if name in _REQUIRED:
                lines.append(f"{name}/(not installed)")
    return lines
