"""Deprecated: ``tomodachi.protocol.json_base`` is ``tomodachi.envelope.json_base``.

``from tomodachi.protocol.json_base import ...`` keeps working for services written for the
original.
"""

from __future__ import annotations

import sys

import tomodachi.envelope.json_base as _target

sys.modules[__name__] = _target
