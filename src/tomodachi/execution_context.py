"""The process-wide execution context of the original: facts about the process and its run.

``get_execution_context()`` returns a new dict each call. Facts are computed when it is called
(nothing is counted on the request or message paths); values given to
``set_execution_context()`` / ``increase_execution_context_value()`` /
``decrease_execution_context_value()`` are kept for the process and override computed keys.

Computed keys: ``tomodachi_version``, ``python_version``, ``system_platform``, ``process_id``,
``cwd``, ``event_loop`` (``"asyncio"`` or ``"uvloop"`` while a loop runs, else ``None``),
``watcher_enabled`` (always ``False``: there is no file watcher), ``http_enabled``,
``aws_sns_sqs_enabled``, ``amqp_enabled`` and ``scheduled_functions_enabled`` (whether a
running service of the current run uses that transport), and the version of the client library
of each enabled transport: ``aiohttp_version``; ``aiobotocore_version`` and ``botocore_version``;
``aio_pika_version`` (the original's ``aioamqp_version`` is absent: aioamqp is not used).
The runner sets ``init_timestamp`` (ISO 8601, UTC) when a run starts.

Not maintained: the ``*_current_tasks`` / ``*_total_tasks`` counters of the original (they would
cost a counter update per request and message). They are absent unless you set them.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
from collections.abc import Mapping
from typing import Any

__all__ = [
    "decrease_execution_context_value",
    "get_execution_context",
    "increase_execution_context_value",
    "set_execution_context",
]

_values: dict[str, Any] = {}

# transport kind -> (the "<name>_enabled" key, the distributions whose versions are reported)
_TRANSPORTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "http": ("http_enabled", (("aiohttp_version", "aiohttp"),)),
    "aws_sns_sqs": (
        "aws_sns_sqs_enabled",
        (("aiobotocore_version", "aiobotocore"), ("botocore_version", "botocore")),
    ),
    "amqp": ("amqp_enabled", (("aio_pika_version", "aio-pika"),)),
    "schedule": ("scheduled_functions_enabled", ()),
}


def set_execution_context(values: Mapping[str, Any]) -> None:
    """Store *values* (key by key) in the execution context of the process."""
    _values.update(values)


def get_execution_context() -> dict[str, Any]:
    """A new dict with the computed facts and every stored value (stored values win)."""
    result = _facts()
    result.update(_values)
    return result


def increase_execution_context_value(key: str, value: int = 1) -> None:
    """Add *value* to the stored value of *key* (which starts at 0)."""
    _values[key] = _values.get(key, 0) + value


def decrease_execution_context_value(key: str, value: int = 1) -> None:
    """Subtract *value* from the stored value of *key* (which starts at 0)."""
    _values[key] = _values.get(key, 0) - value


def _clear_execution_context() -> None:
    """Forget every stored value (tests)."""
    _values.clear()


def _mark_run_start() -> None:
    """Called by the runner when a run starts."""
    now = datetime.datetime.now(datetime.UTC)
    _values["init_timestamp"] = now.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _facts() -> dict[str, Any]:
    from tomodachi.__version__ import __version__

    facts: dict[str, Any] = {
        "tomodachi_version": __version__,
        "python_version": platform.python_version(),
        "system_platform": platform.system(),
        "process_id": os.getpid(),
        "init_timestamp": None,
        "event_loop": _event_loop(),
        "cwd": os.getcwd(),
        "watcher_enabled": False,
    }
    kinds = _running_transport_kinds()
    for kind, (enabled_key, distributions) in _TRANSPORTS.items():
        enabled = kind in kinds
        facts[enabled_key] = enabled
        if enabled:
            for version_key, distribution in distributions:
                facts[version_key] = _version(distribution)
    return facts


def _event_loop() -> str | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return "uvloop" if type(loop).__module__.split(".")[0] == "uvloop" else "asyncio"


def _running_transport_kinds() -> set[str]:
    from tomodachi.runtime import current_runtime

    runtime = current_runtime()
    if runtime is None:
        return set()
    return {
        transport.display_name()
        for service in runtime.services.values()
        for transport in runtime.transports(service)
    }


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:  # pragma: no cover - the transport runs, so it is installed
        return None
