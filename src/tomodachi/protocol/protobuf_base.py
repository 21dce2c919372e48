"""Deprecated: ``tomodachi.protocol.protobuf_base`` is ``tomodachi.envelope.protobuf_base``.

``from tomodachi.protocol.protobuf_base import ...`` keeps working for services written for the
original.
"""

from __future__ import annotations

import sys

import tomodachi.envelope.protobuf_base as _target

sys.modules[__name__] = _target
