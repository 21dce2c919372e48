"""The examples are written with tomodachi's public API only (they teach it).

A private name is a module or attribute of ``tomodachi`` whose dotted path has a part starting
with ``_`` (``tomodachi._tasks``, ``tomodachi.transport.amqp.rabbitmq._helper``); dunder names
such as ``__version__`` are public.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def private_uses(source: str) -> list[str]:
    """Every ``tomodachi`` name *source* imports or reaches that is private."""
    found: list[str] = []
    tree = ast.parse(source)
    aliases = {"tomodachi"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tomodachi":
                    aliases.add(alias.asname or alias.name.split(".")[0])
                    if _private(alias.name):
                        found.append(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tomodachi":
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _private(dotted):
                    found.append(dotted)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain: list[str] = [node.attr]
            value: ast.expr = node.value
            while isinstance(value, ast.Attribute):
                chain.insert(0, value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in aliases:
                dotted = ".".join([value.id, *chain])
                if _private(dotted):
                    found.append(dotted)
    return sorted(set(found))


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.py")), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_uses_only_public_tomodachi_names(path: Path) -> None:
    assert private_uses(path.read_text(encoding="utf-8")) == []


def test_the_check_sees_private_imports_and_attributes() -> None:
    source = (
        "import tomodachi\n"
        "import tomodachi._tasks\n"
        "from tomodachi._tasks import TaskTracker\n"
        "from tomodachi.transport import _helper\n"
        "from tomodachi import __version__, Service\n"
        "x = tomodachi.runtime._current\n"
        "y = tomodachi.get_logger\n"
    )
    assert private_uses(source) == [
        "tomodachi._tasks",
        "tomodachi._tasks.TaskTracker",
        "tomodachi.runtime._current",
        "tomodachi.transport._helper",
    ]
