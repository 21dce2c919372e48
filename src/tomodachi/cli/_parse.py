"""Parse ``tomodachi run`` arguments and ``TOMODACHI_*`` environment variables (RunArguments).

Rules (see ``tomodachi --help``):

* flags may appear anywhere after ``run``; everything else is a service file (``--`` ends the
  flags), de-duplicated in the order given;
* every flag has an environment variable; a flag given on the command line wins over its
  environment variable (the original exited with an error on a conflict);
* every mistake raises :class:`UsageError` with a one-line message; the CLI exits with 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tomodachi.errors import ConfigurationError
from tomodachi.run_config import RunConfig

__all__ = [
    "HELP_FLAGS",
    "RunArguments",
    "UsageError",
    "is_run_flag",
    "load_config_files",
    "merge_config",
    "parse_run_arguments",
]

HELP_FLAGS = ("-h", "--help")

_LOOPS = {
    "auto": "auto",
    "default": "auto",
    "asyncio": "asyncio",
    "aio": "asyncio",
    "async": "asyncio",
    "uvloop": "uvloop",
    "libuv": "uvloop",
    "uv": "uvloop",
}
_LOG_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warning": "warning",
    "warn": "warning",
    "error": "error",
    "critical": "critical",
}
_MESSAGE_BROKERS = ("memory", "default")
_LOGGERS = ("console", "json", "python", "disabled")
_FALSE_WORDS = ("", "0", "no", "none", "false", "off")

# Flags that take one value, by every spelling -> the setting they fill.
_VALUE_FLAGS = {
    "--loop": "loop",
    "-l": "log_level",
    "--log": "log_level",
    "--log-level": "log_level",
    "--logger": "logger",
    "--custom-logger": "custom_logger",
    "--message-broker": "message_broker",
    "--host": "host",
    "--port": "port",
    "--workers": "workers",
}
# Flags without a value -> (the setting, its value).
_SWITCHES = {
    "--production": ("production", True),
    "--reload": ("reload", True),
    "--no-reload": ("reload", False),
    "--opentelemetry-instrument": ("opentelemetry_instrument", True),
}
_ENV = {
    "production": "TOMODACHI_PRODUCTION",
    "loop": "TOMODACHI_LOOP",
    "log_level": "TOMODACHI_LOG_LEVEL",
    "logger": "TOMODACHI_LOGGER",
    "custom_logger": "TOMODACHI_CUSTOM_LOGGER",
    "message_broker": "TOMODACHI_MESSAGE_BROKER",
    "reload": "TOMODACHI_RELOAD",
    "host": "TOMODACHI_HOST",
    "port": "TOMODACHI_PORT",
    "workers": "TOMODACHI_WORKERS",
    "opentelemetry_instrument": "TOMODACHI_OPENTELEMETRY_INSTRUMENT",
}
_CONFIG_FLAGS = ("-c", "--config")


class UsageError(ConfigurationError):
    """A mistake on the command line (or in a ``TOMODACHI_*`` variable): exit code 2.

    ``details`` are extra lines printed after the message (for example a suggested command).
    ``invalid_command`` adds the original's "invalid command or combination" preamble.
    """

    def __init__(self, message: str, *details: str, invalid_command: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.invalid_command = invalid_command


def is_run_flag(arg: str) -> bool:
    """Is *arg* one of the options of ``tomodachi run`` (used to explain misplaced options)?"""
    name = arg.split("=", 1)[0] if arg.startswith("--") else arg
    return name in _VALUE_FLAGS or name in _CONFIG_FLAGS or name in _SWITCHES


@dataclass
class RunArguments(RunConfig):
    """What ``tomodachi run ...`` asked for, validated and normalised."""

    config_files: list[str] = field(default_factory=list)
    show_help: bool = False
    #: Restart the services on code changes (``--reload``; the default unless ``--production``).
    reload: bool = False
    #: ``--host`` / ``--port``: ``http.host`` / ``http.port`` of every service of the run (also
    #: merged into :attr:`config` as ``options``).
    host: str | None = None
    port: int | None = None
    #: ``--opentelemetry-instrument``: instrument the services' process (tomodachi.opentelemetry).
    opentelemetry_instrument: bool = False
    #: ``--workers N`` (``auto``: the number of cores): worker processes under one supervisor
    #: (:mod:`tomodachi.workers`); 1 runs the services in this process, as without the flag.
    workers: int = 1


@dataclass
class _Raw:
    files: list[str] = field(default_factory=list)
    flags: dict[str, str | bool] = field(default_factory=dict)
    flag_names: dict[str, str] = field(default_factory=dict)  # setting -> spelling used
    config_files: list[str] = field(default_factory=list)
    show_help: bool = False


def _scan(args: Sequence[str]) -> _Raw:
    raw = _Raw()
    index = 0
    only_files = False
    while index < len(args):
        arg = args[index]
        index += 1
        if only_files or not arg.startswith("-") or arg == "-":
            raw.files.append(arg)
            continue
        if arg == "--":
            only_files = True
            continue
        name, has_inline, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in HELP_FLAGS:
            raw.show_help = True
        elif name in _SWITCHES:
            if has_inline:
                raise UsageError(f"the {name} option does not take a value (use {name} alone)")
            setting, switch = _SWITCHES[name]
            if setting in raw.flags and raw.flags[setting] != switch:
                raise UsageError(f"the options {raw.flag_names[setting]} and {name} contradict each other")
            raw.flags[setting] = switch
            raw.flag_names[setting] = name
        elif name in _VALUE_FLAGS:
            setting = _VALUE_FLAGS[name]
            if has_inline:
                value = inline
            elif index < len(args) and not args[index].startswith("-"):
                value = args[index]
                index += 1
            else:
                value = ""
            if not value:
                raise UsageError(f"Missing value for {name} option")
            raw.flags[setting] = value
            raw.flag_names[setting] = name
        elif name in _CONFIG_FLAGS:
            values = [inline] if has_inline and inline else []
            # The first value is always a config file; more follow while they end in ".json",
            # so `-c a.json b.json service.py` works (the original swallowed service.py too).
            if not values and index < len(args) and not args[index].startswith("-"):
                values.append(args[index])
                index += 1
            while (
                index < len(args)
                and args[index].lower().endswith(".json")
                and not args[index].startswith("-")
            ):
                values.append(args[index])
                index += 1
            if not values:
                raise UsageError(f"Missing config file on command line (expected a JSON file after {name})")
            raw.config_files.extend(values)
        else:
            raise UsageError(f"option {name} not recognized.", invalid_command=True)
    return raw


def _unique(paths: Sequence[str]) -> list[str]:
    """De-duplicate service files in the order given (``a.py`` and ``./a.py`` are one file)."""
    seen: set[str] = set()
    result: list[str] = []
    for path in paths:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            result.append(path)
    return result


def _setting(raw: _Raw, environ: Mapping[str, str], setting: str) -> tuple[str | bool | None, str]:
    """The value of *setting* and a description of where it came from (for messages)."""
    if setting in raw.flags:
        return raw.flags[setting], f"{raw.flag_names[setting]} option"
    env_name = _ENV[setting]
    value = environ.get(env_name)
    if setting in ("production", "opentelemetry_instrument"):
        return (value is not None and value.strip().lower() not in _FALSE_WORDS), env_name
    if setting == "reload":  # unset or empty: the default (on unless production)
        if value is None or not value.strip():
            return None, env_name
        return value.strip().lower() not in _FALSE_WORDS, env_name
    if value is None or not value.strip():
        return None, env_name
    return value.strip(), f"{env_name} environment variable"


def _loop(value: str, source: str) -> str:
    loop = _LOOPS.get(value.lower())
    if loop is None:
        raise UsageError(
            f"Invalid value for --loop option: {value!r} not recognized "
            f"(expected 'auto', 'asyncio' or 'uvloop'{_env_note(source)})"
        )
    if loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError as exc:
            raise UsageError(
                f"the uvloop event loop was requested ({source}: {value!r}) but uvloop cannot be imported "
                f"({type(exc).__name__}: {exc}); install it with 'pip install tomodachi[uvloop]' "
                "or use --loop auto"
            ) from exc
    return loop


def _env_note(source: str) -> str:
    """Say where a bad value came from when it was not the command line."""
    return "" if source.endswith(" option") else f"; set by the {source}"


def _log_level(value: str, source: str) -> str:
    level = _LOG_LEVELS.get(value.lower())
    if level is None:
        raise UsageError(
            f"Invalid log level: {value!r} (expected 'debug', 'info', 'warning', 'error' or 'critical'"
            f"{_env_note(source)})"
        )
    return level


def _logger(value: str, source: str) -> str:
    logger = value.lower()
    if logger not in (*_LOGGERS, "custom"):
        raise UsageError(
            f"Invalid value for --logger option: {value!r} (expected 'json', 'console', 'python' or "
            f"'disabled'{_env_note(source)})"
        )
    return logger


def _check_custom_logger(path: str, source: str) -> None:
    """Import the custom logger now, so a typo is a usage error (exit 2), not a traceback."""
    from tomodachi.logging.config import import_custom_logger
    from tomodachi.logging.outputs import is_usable_factory

    try:
        factory = import_custom_logger(path)
    except ConfigurationError as exc:
        raise UsageError(f"Invalid value for --custom-logger option: {exc}{_env_note(source)}") from exc
    if not is_usable_factory(factory):
        raise UsageError(
            f"Invalid value for --custom-logger option: {path!r} is not a logger factory (expected the "
            f"logging module, a class, or an object with new(), bind(), get_logger() or info()"
            f"{_env_note(source)})"
        )


def parse_run_arguments(args: Sequence[str], environ: Mapping[str, str] | None = None) -> RunArguments:
    """Parse the arguments after ``run``; raise :class:`UsageError` on any mistake."""
    environ = os.environ if environ is None else environ
    raw = _scan(args)
    result = RunArguments(files=_unique(raw.files), show_help=raw.show_help)
    if raw.show_help:
        return result

    production, _ = _setting(raw, environ, "production")
    result.production = bool(production)
    instrument, _ = _setting(raw, environ, "opentelemetry_instrument")
    if instrument:
        from tomodachi.opentelemetry import missing_extra

        problem = missing_extra()
        if problem is not None:
            raise UsageError(problem)
        result.opentelemetry_instrument = True
    reload, _ = _setting(raw, environ, "reload")
    result.reload = (not result.production) if reload is None else bool(reload)

    loop, source = _setting(raw, environ, "loop")
    if isinstance(loop, str):
        result.loop = _loop(loop, source)

    _read_logging(raw, environ, result)

    broker, source = _setting(raw, environ, "message_broker")
    if isinstance(broker, str):
        if broker.lower() not in _MESSAGE_BROKERS:
            raise UsageError(
                f"Invalid value for --message-broker option: {broker!r} not recognized "
                f"(expected 'memory' or 'default'{_env_note(source)})"
            )
        result.message_broker = None if broker.lower() == "default" else broker.lower()

    if raw.config_files:
        result.config_files = raw.config_files
        result.config = load_config_files(raw.config_files)

    _read_http_address(raw, environ, result)

    workers, source = _setting(raw, environ, "workers")
    if isinstance(workers, str):
        result.workers = _workers(workers, source)
    if result.workers > 1 and result.message_broker == "memory":
        raise UsageError(
            f"--workers {result.workers} cannot run on the in-memory message broker (--message-broker "
            "memory): it lives in one process, so the workers would not share it; use one worker or a "
            "real broker"
        )
    return result


def _read_logging(raw: _Raw, environ: Mapping[str, str], result: RunArguments) -> None:
    """``--log-level``, ``--logger`` and ``--custom-logger`` (command line, else environment)."""
    level, source = _setting(raw, environ, "log_level")
    if isinstance(level, str):
        result.log_level = _log_level(level, source)

    logger, logger_source = _setting(raw, environ, "logger")
    custom, custom_source = _setting(raw, environ, "custom_logger")
    if isinstance(logger, str):
        logger = _logger(logger, logger_source)
    if isinstance(custom, str) and isinstance(logger, str) and logger != "custom":
        logger_on_cli = "logger" in raw.flags
        custom_on_cli = "custom_logger" in raw.flags
        if logger_on_cli == custom_on_cli:
            raise UsageError(
                "Invalid combination of --custom-logger and --logger options "
                f"(--logger {logger!r} with --custom-logger {custom!r}; give --logger custom or leave it out)"
            )
        # One came from the command line, the other from the environment: the command line wins.
        if logger_on_cli:
            custom = None
        else:
            logger = "custom"
    if logger == "custom" and not isinstance(custom, str):
        raise UsageError("--logger custom requires --custom-logger <module.attribute>")
    if isinstance(custom, str):
        _check_custom_logger(custom, custom_source)
        result.custom_logger = custom
        result.logger = "custom"
    elif isinstance(logger, str):
        result.logger = logger


def _read_http_address(raw: _Raw, environ: Mapping[str, str], result: RunArguments) -> None:
    """``--host`` and ``--port``: the ``http.host`` / ``http.port`` options, over the config files."""
    host, source = _setting(raw, environ, "host")
    if isinstance(host, str):
        result.host = host
    port, source = _setting(raw, environ, "port")
    if isinstance(port, str):
        result.port = _port(port, source)
    http = {
        key: value
        for key, value in (("http.host", result.host), ("http.port", result.port))
        if value is not None
    }
    if http:  # after the config files: the command line (or its variable) wins
        result.config = merge_config(result.config, {"options": http})


def _workers(value: str, source: str) -> int:
    if value.strip().lower() == "auto":
        # The cores this process may use (a container's CPU set), else all of them.
        if hasattr(os, "sched_getaffinity"):
            return max(1, len(os.sched_getaffinity(0)))
        return max(1, os.cpu_count() or 1)
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if not 1 <= workers <= 1024:
        raise UsageError(
            f"Invalid value for --workers option: {value!r} (expected a number from 1 to 1024 or 'auto'"
            f"{_env_note(source)})"
        )
    return workers


def _port(value: str, source: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(
            f"Invalid value for --port option: {value!r} (expected a port number from 0 to 65535"
            f"{_env_note(source)})"
        )
    return port


def merge_config(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: dicts are merged, lists concatenated, any other value replaced."""
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_config(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            merged[key] = [*current, *value]
        else:
            merged[key] = value
    return merged


def load_config_files(paths: Sequence[str]) -> dict[str, Any]:
    """Read and deep-merge JSON config files in order; raise :class:`UsageError` on a bad file."""
    config: dict[str, Any] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fp:
                text = fp.read()
        except FileNotFoundError:
            raise UsageError(f"Invalid config file: {path!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"Invalid config file: {path!r} cannot be read ({exc})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"Invalid config file, invalid JSON format: {path!r} ({exc})") from exc
        if not isinstance(data, dict):
            raise UsageError(
                f"Invalid config file: {path!r} must contain a JSON object, not {type(data).__name__}"
            )
        config = merge_config(config, data)
    return config
