"""Find the dead-letter routes of service files or classes: set up, never started.

The files are imported the way ``tomodachi run`` imports them, the services instantiated and their
options (and ``-c`` config) applied by a :class:`~tomodachi.container.ServiceContainer`, and each
transport's ``setup()`` run - which resolves queue names without a connection. Nothing is
started, no lifecycle hook runs and nothing is declared on a broker.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from tomodachi.dlq.model import DeadLetterError, DeadLetterTarget
from tomodachi.messaging.dead_letters import routes_of
from tomodachi.service import Service

__all__ = ["Source", "targets"]

_NO_UUID = "the service has no fixed uuid: a non-competing handler's queue is named anew in every process"

#: A service file (path, ``.py`` optional) or a service class.
Source: TypeAlias = "str | os.PathLike[str] | type[Service]"


async def targets(
    sources: Source | Iterable[Source], *, config: Mapping[str, Any] | None = None
) -> list[DeadLetterTarget]:
    """The dead-letter route of every message handler of *sources*, with its service's options.

    *config* is what ``-c`` files give ``tomodachi run`` (top-level keys set on every service,
    ``"options"`` merged into its options). A handler whose transport reports no route is left out.
    Raises :class:`~tomodachi.dlq.DeadLetterError` (one line) when a file cannot be imported or a
    service cannot be set up.
    """
    from tomodachi.container import ServiceContainer, StartupError
    from tomodachi.importer import ServiceFileError, load_service_file
    from tomodachi.runtime import Runtime

    items = [sources] if isinstance(sources, (str, os.PathLike, type)) else list(sources)
    runtime = Runtime()
    token = runtime.activate()
    containers: list[ServiceContainer] = []
    found: list[DeadLetterTarget] = []
    try:
        for item in items:
            if isinstance(item, type) and issubclass(item, Service):
                classes, source = [item], ""
            elif isinstance(item, (str, os.PathLike)):
                source = os.fspath(item)
                classes = load_service_file(source)
            else:
                raise DeadLetterError(f"not a service file or service class: {item!r}")
            container = ServiceContainer(classes, runtime, source=source, config=config)
            containers.append(container)
            await container.setup()
            for record in container.records:
                options, hint = record.service.options, "" if type(record.service).uuid else _NO_UUID
                for transport in record.transports:
                    found.extend(DeadLetterTarget(route, options, hint) for route in routes_of(transport))
    except (ServiceFileError, StartupError) as exc:
        raise DeadLetterError(str(exc)) from None
    finally:
        for container in containers:
            await container.stop()
        await runtime.aclose()
        Runtime.deactivate(token)
    return found
