"""``tomodachi.invoker.decorator`` is ``tomodachi.decorator`` (the original's module path)."""

from __future__ import annotations

from tomodachi.decorator import decorator

__all__ = ["decorator"]
