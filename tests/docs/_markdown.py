"""Reading README.md and docs/*.md for the docs checks: fenced code blocks and pipe tables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MARKDOWN_FILES = (ROOT / "README.md", *sorted(DOCS.glob("*.md")))

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")
_MARKER = re.compile(r"^[ \t]*<!--\s*(?P<name>[\w-]+)(?P<rest>[^>]*)-->[ \t]*$")


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block: its file, the line of its opening fence (1-based), its language, the
    marker comment on the line right before the fence (``<!-- fragment -->`` -> ``"fragment"``)
    and its text, with the indentation of the fence (a block inside a list item) removed."""

    path: Path
    line: int
    lang: str
    marker: str | None
    source: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def code_blocks(path: Path) -> list[CodeBlock]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[CodeBlock] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent = opening.group("indent")
        end = index + 1
        while end < len(lines) and not re.fullmatch(r"[ \t]*```[ \t]*", lines[end]):
            end += 1
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[index + 1 : end]
        ]
        marker = _MARKER.match(lines[index - 1]) if index else None
        blocks.append(
            CodeBlock(
                path=path,
                line=index + 1,
                lang=opening.group("lang"),
                marker=marker.group("name") if marker else None,
                source="\n".join(body) + "\n",
            )
        )
        index = end + 1
    return blocks


def stray_markers(path: Path, names: tuple[str, ...]) -> list[str]:
    """``file:line`` of marker comments (``<!-- name ... -->`` for one of *names*) that do not
    stand right before a code fence. Other HTML comments are left alone."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        marker = _MARKER.match(line)
        if (
            marker
            and marker.group("name") in names
            and (number >= len(lines) or not _FENCE.match(lines[number]))
        ):
            found.append(f"{path.relative_to(ROOT)}:{number}")
    return found


def tables(text: str) -> list[list[list[str]]]:
    """Every pipe table of *text*: a list of rows (the header first, the ``|---|`` line left
    out), each a list of stripped cells. ``\\|`` inside a cell is a literal ``|``."""
    result: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", stripped[1:-1])]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            result.append(current)
            current = []
    return result


def backticked(cell: str) -> list[str]:
    """The ``code`` spans of a table cell, in order."""
    return re.findall(r"`([^`]+)`", cell)
