"""The ``/metrics`` endpoint: the Prometheus exposition of the process's registry.

Needs ``prometheus-client`` (``pip install "tomodachi[prometheus]"``), imported only when a
service sets ``ops.metrics``.
"""

from __future__ import annotations

from tomodachi.errors import ConfigurationError

__all__ = ["check_available", "render"]


def check_available() -> None:
    """Raise ``ConfigurationError`` naming the extra when ``prometheus_client`` is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            "option 'ops.metrics' needs prometheus-client: pip install \"tomodachi[prometheus]\""
        ) from exc


def render() -> tuple[bytes, str]:
    """``(body, content type)`` of the Prometheus text exposition of the default registry."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
