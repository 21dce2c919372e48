"""Transports: the HTTP server, brokers and schedulers that call service handlers.

``Transport`` is the public base class for built-in and custom transports. The transport
subpackages (``amqp``, ``aws_sns_sqs`` and its alias ``awssnssqs``, ``http``, ``schedule``,
``memory``) are imported the first time they are used, so ``import tomodachi`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from tomodachi.transport.base import Handler, Transport

__all__ = ["Handler", "Transport", "amqp", "aws_sns_sqs", "awssnssqs", "http", "schedule"]

_SUBMODULES = frozenset({"amqp", "aws_sns_sqs", "awssnssqs", "http", "schedule", "memory"})


def __getattr__(name: str) -> Any:
    if name not in _SUBMODULES:
        raise AttributeError(f"module 'tomodachi.transport' has no attribute {name!r}")
    return importlib.import_module(f"tomodachi.transport.{name}")
