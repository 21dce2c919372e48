"""Every flag of ``tomodachi dlq`` is accepted by the parser, and listed in its help, in docs/cli.md
and in docs/dead_letters.md; the docs list no flag it does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tomodachi.cli._dlq import DLQ_FLAGS, parse_dlq_arguments
from tomodachi.cli._dlq_text import dlq_usage_text
from tomodachi.cli._parse import UsageError

DOCS = Path(__file__).resolve().parents[2] / "docs"
FLAG = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")


def _cli_section() -> str:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    start = text.index("## `tomodachi dlq`")
    return text[start : text.index("\n## ", start + 1)]


def _table_flags(text: str) -> set[str]:
    """Flags in the first column of the option table rows of *text*."""
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `-"):
            flags.update(FLAG.findall(line.split("|")[1]))
    return flags


def test_the_parser_knows_every_flag() -> None:
    values = {"--limit": ["3"], "-c": ["x.json"], "--config": ["x.json"], "--message-broker": ["default"]}
    commands = {"--yes": "redrive", "-y": "redrive", "--json": "show"}
    for flag in DLQ_FLAGS:
        args = [commands.get(flag, "show"), "a.py", "h", flag, *values.get(flag, [])]
        parse_dlq_arguments(args, environ={})  # no UsageError
    with pytest.raises(UsageError, match="not recognized"):
        parse_dlq_arguments(["show", "a.py", "h", "--force"], environ={})


@pytest.mark.parametrize(
    "where",
    ["help", "cli.md", "dead_letters.md"],
)
def test_every_flag_is_documented(where: str) -> None:
    if where == "help":
        options = dlq_usage_text().split("Options:")[1].split("Exit codes")[0]
        listed = set(FLAG.findall(options))
    elif where == "cli.md":
        listed = _table_flags(_cli_section())
    else:
        listed = _table_flags(
            (DOCS / "dead_letters.md").read_text(encoding="utf-8").split("## The Python API")[0]
        )
    assert listed == set(DLQ_FLAGS)
