"""docs/retries.md: its testing example runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "retries.md"


def _tested_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- tested: [^>]*-->\n```python\n(.*?)```", text, re.S)
    assert match, "docs/retries.md lost its tested example"
    return match.group(1)


async def test_the_documented_retry_test_passes() -> None:
    namespace: dict[str, Any] = {"__name__": "retries_doc_example"}
    exec(compile(_tested_block(), str(DOC), "exec"), namespace)
    await namespace["test_an_outage_of_30_seconds_is_survived"]()
