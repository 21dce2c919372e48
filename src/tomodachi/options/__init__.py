"""Typed options of a service: ``from tomodachi.options import Options``.

Import is cheap (stdlib only), so the CLI and the container can use it before any transport loads.
"""

from __future__ import annotations

from ._base import DEFAULT, OptionsInterface, option, subsection
from .definitions import Options, coerce_options, grace_period_of
from .sections import register_section, registered_sections

__all__ = [
    "DEFAULT",
    "Options",
    "OptionsInterface",
    "coerce_options",
    "grace_period_of",
    "option",
    "register_section",
    "registered_sections",
    "subsection",
]
