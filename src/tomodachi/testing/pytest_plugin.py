"""pytest fixtures for tomodachi services (registered through the ``pytest11`` entry point).

- ``tomodachi_services``: :func:`tomodachi.testing.run_services`, to use as
  ``async with tomodachi_services(MyService) as app: ...``.
- ``manual_clock``: a fresh :class:`~tomodachi.clock.ManualClock` (2024-01-01 00:00 UTC).
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def tomodachi_services() -> Any:
    from tomodachi.testing.harness import run_services

    return run_services


@pytest.fixture
def manual_clock() -> Any:
    from tomodachi.clock import ManualClock

    return ManualClock()
