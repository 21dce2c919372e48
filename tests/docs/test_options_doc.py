"""docs/options.md documents every built-in option key: each has a row in a table.

Sections registered by transports (tomodachi.options.register_section, also by other tests) are
documented by those transports, so they are left out.
"""

from __future__ import annotations

import re
from pathlib import Path

from tomodachi.options import Options
from tomodachi.options.sections import REGISTERED

DOC = Path(__file__).resolve().parents[2] / "docs" / "options.md"


def test_every_option_key_has_a_row_in_docs_options() -> None:
    rows = set(re.findall(r"^\| `([a-z_][a-z0-9_.]*)` \|", DOC.read_text(encoding="utf-8"), re.MULTILINE))
    registered = tuple(f"{name}." for name in REGISTERED)
    keys = {key for key in Options().asdict() if not key.startswith(registered)}
    assert sorted(keys - rows) == []


def test_max_message_size_row_states_the_default() -> None:
    text = DOC.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `max_message_size` |"))
    assert f"`{Options().max_message_size}`" in row
