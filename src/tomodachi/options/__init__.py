"""Typed options of a service: ``from tomodachi.options import Options``.

Import is cheap (stdlib only), so the CLI and the container can use it before any transport loads.
"""

from __future__ import annotations

from ._base import DEFAULT, OptionsInterface
from .definitions import Options, coerce_options, grace_period_of

__all__ = ["DEFAULT", "Options", "OptionsInterface", "coerce_options", "grace_period_of"]
