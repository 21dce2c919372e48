"""Operations endpoints of a service: liveness, readiness and (with Prometheus) metrics.

Opt in with the ``ops`` options section (``Options(ops={"health": True})``); the container
then adds an :class:`~tomodachi.ops.transport.OpsTransport` to the service, which serves

- ``ops.liveness_path`` (``/health/live``): 200 while the event loop answers;
- ``ops.readiness_path`` (``/health/ready``): 200 while the service is serving and every
  transport is ready, else 503 (starting, a broker reconnecting, stopping), with a JSON body
  naming each transport's state;
- ``ops.metrics_path`` (``/metrics``, with ``ops.metrics``): the Prometheus exposition format.

On the service's HTTP server (``ops.port`` is ``None``, the default: mounted with
:func:`tomodachi.transport.http.mount`) or on a small separate server of the run
(``ops.port`` set; ``0`` picks a free port), which also works for a service without HTTP
routes. See docs/observability.md. Nothing here is imported unless a service opts in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tomodachi.service import Service

__all__ = ["readiness_report", "wants_ops"]


def wants_ops(service: Service) -> bool:
    """Whether *service*'s options ask for an ops endpoint (health or metrics)."""
    ops = service.options.ops
    return bool(ops.health or ops.metrics)


def readiness_report(services: list[Service]) -> tuple[bool, dict[str, Any]]:
    """``(ready, body)`` for the readiness endpoint of *services*.

    The body is ``{"status": "ready" | "not ready", "services": {name: {"ready", "serving",
    "transports": {kind: bool}}}}``; the ops transport itself is left out of ``transports``.
    """
    from tomodachi.runtime import record_of

    report: dict[str, Any] = {}
    all_ready = bool(services)
    for service in services:
        record = record_of(service)
        serving = bool(record is not None and record.serving)
        transports = {
            transport.display_name(): bool(transport.ready)
            for transport in (record.transports if record is not None else ())
            if transport.display_name() != "ops"
        }
        ready = serving and all(transports.values())
        all_ready = all_ready and ready
        report[service.name] = {"ready": ready, "serving": serving, "transports": transports}
    return all_ready, {"status": "ready" if all_ready else "not ready", "services": report}
