"""Deprecated: the old name of :mod:`tomodachi.envelope`; import from there instead.

``JsonBase``, ``ProtobufBase``, ``json_base`` and ``protobuf_base`` resolve (on first use) to
the very same objects as in ``tomodachi.envelope``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tomodachi.envelope import JsonBase, ProtobufBase, json_base, protobuf_base

__all__ = ["JsonBase", "ProtobufBase", "json_base", "protobuf_base"]

warnings.warn(
    "tomodachi.protocol is deprecated; import from tomodachi.envelope instead",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import tomodachi.envelope

    value = getattr(tomodachi.envelope, name)
    globals()[name] = value
    return value
