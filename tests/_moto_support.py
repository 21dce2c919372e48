"""A moto server (SNS, SQS, STS) for tests in any directory: ``from tests._moto_support import moto_server``.

A module with a unique name (``conftest`` modules shadow each other), not collected by pytest.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's threaded server on 127.0.0.1 and a free port; yield its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
