"""Transports: the HTTP server, brokers and schedulers that call service handlers.

``Transport`` is the public base class for built-in and custom transports; submodules are
imported lazily so ``import tomodachi`` stays cheap.
"""

from tomodachi.transport.base import Handler, Transport

__all__ = ["Handler", "Transport"]
