"""docs/redis.md and docs/options.md document every ``redis.*`` option key with its default."""

from __future__ import annotations

import re
from pathlib import Path

from tomodachi.options import Options
from tomodachi.transport.redis import RedisOptions

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _rows(name: str) -> dict[str, str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return {
        m.group(1): m.group(2) for m in re.finditer(r"^\| `(redis\.[a-z_.]+)` \| `([^`]*)` \|", text, re.M)
    }


def test_every_redis_key_has_a_row_with_its_default_in_both_docs() -> None:
    defaults = {key: value for key, value in Options().asdict().items() if key.startswith("redis.")}
    assert defaults and set(defaults) == {f"redis.{key}" for key in RedisOptions().asdict()}
    for doc in ("redis.md", "options.md"):
        rows = _rows(doc)
        assert sorted(set(defaults) - set(rows)) == [], doc
        for key, value in defaults.items():
            shown = f'"{value}"' if isinstance(value, str) else repr(value)
            assert rows[key] == shown, (doc, key, rows[key], shown)
