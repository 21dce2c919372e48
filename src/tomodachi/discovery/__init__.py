"""Service discovery registries (deprecated in the original tomodachi, kept for compatibility).

A service lists registries in ``discovery = [...]``; they are told about its HTTP endpoints,
then called when it has started (``_register_service``) and when it stops
(``_deregister_service``). See ``docs/discovery.md``.

- :class:`DummyRegistry` (aliases ``dummy``, ``example``) remembers and logs what it is told;
- :class:`AWSSNSRegistration` (aliases ``awssns``, ``aws_sns``) publishes to SNS; it is imported
  on first use, so ``import tomodachi.discovery`` does not import the AWS transport.
- :func:`register_service`, :func:`deregister_service` and :func:`add_http_endpoint` call every
  registry of a service; failures are logged, never raised.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tomodachi.discovery.dummy_registry import DummyRegistry, RegistryEvent
from tomodachi.discovery.registry import (
    HttpEndpoint,
    Registry,
    add_http_endpoint,
    deregister_service,
    register_service,
    registries_of,
)

if TYPE_CHECKING:
    from tomodachi.discovery import aws_sns_registration, dummy_registry, registry
    from tomodachi.discovery.aws_sns_registration import AWSSNSRegistration

    awssns = aws_sns = AWSSNSRegistration

dummy = example = DummyRegistry

_LAZY = {"AWSSNSRegistration", "awssns", "aws_sns"}
_SUBMODULES = frozenset({"aws_sns_registration", "dummy_registry", "registry"})

__all__ = [
    "AWSSNSRegistration",
    "DummyRegistry",
    "HttpEndpoint",
    "Registry",
    "RegistryEvent",
    "add_http_endpoint",
    "aws_sns",
    "aws_sns_registration",
    "awssns",
    "deregister_service",
    "dummy",
    "dummy_registry",
    "example",
    "register_service",
    "registries_of",
    "registry",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = importlib.import_module("tomodachi.discovery.aws_sns_registration").AWSSNSRegistration
    elif name in _SUBMODULES:
        value = importlib.import_module(f"tomodachi.discovery.{name}")
    else:
        raise AttributeError(f"module 'tomodachi.discovery' has no attribute {name!r}")
    globals()[name] = value
    return value
