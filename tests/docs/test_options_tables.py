"""The option tables of the docs agree with the option definitions.

An option table is a table whose header starts with ``key | default`` or ``option | default``,
in docs/options.md or in a transport's own page (amqp.md, http.md, graphql.md, redis.md, ...).
Each row names real keys (``Options().asdict()``, sections registered by the built-in transports
included) and states their defaults as Python literals: `` `None` ``, `` `"0.0.0.0"` ``,
`` `[]` ``, `` `104857600` (100 MiB) ``. A row may name several keys of one section, the later
ones relative to the first (`` `aws_sns_sqs.topic_prefix`, `queue_name_prefix` ``,
`` `aws_endpoint_urls.sns`, `.sqs` ``), with one default for all or one per key.

docs/options.md has a row for every built-in key; a section registered by a built-in transport
(``graphql``, ``redis``) has a row for every key in options.md or in its own page.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from tomodachi.options import Options
from tomodachi.options.sections import registered_sections

from ._markdown import DOCS, ROOT, backticked, tables

#: Built-in transports that register an option section when imported: module -> section name.
BUILT_IN_SECTIONS = {
    "tomodachi.transport.graphql.options": "graphql",
    "tomodachi.transport.redis.options": "redis",
}
OPTIONS_DOC = DOCS / "options.md"
_UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def _import_built_in_sections() -> list[str]:
    names = []
    for module, name in BUILT_IN_SECTIONS.items():
        try:
            importlib.import_module(module)
        except ImportError:  # an optional dependency is missing; the section is not part of Options
            continue
        if name in registered_sections():
            names.append(name)
    return names


SECTIONS = _import_built_in_sections()


def _defaults() -> dict[str, Any]:
    return Options().asdict()


def _option_tables(path: Path) -> list[tuple[int, list[list[str]]]]:
    """``(index, rows)`` of the option tables of *path*, header left out."""
    found = []
    for index, table in enumerate(tables(path.read_text(encoding="utf-8"))):
        header = [cell.lower() for cell in table[0]]
        if len(header) >= 2 and header[0] in ("key", "option") and header[1] == "default":
            found.append((index, table[1:]))
    return found


def _keys_of(cell: str) -> list[str]:
    """The full keys a first cell names, relative names completed from the first key."""
    keys: list[str] = []
    for name in backticked(cell):
        if not keys or ("." in name and not name.startswith(".")):
            keys.append(name)
        else:
            section = keys[0].rsplit(".", 1)[0]
            keys.append(f"{section}.{name.lstrip('.')}")
    return keys


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise AssertionError(f"{text!r} is not a Python literal") from None


def _same(documented: Any, actual: Any) -> bool:
    """Equal, a bool never standing for a number and an int for its float (`10` for 10.0) allowed."""
    if isinstance(documented, bool) or isinstance(actual, bool):
        return type(documented) is type(actual) and documented == actual
    if isinstance(actual, str):
        return isinstance(documented, str) and documented == actual
    return bool(documented == actual)


def _rows() -> list[Any]:
    params = []
    for path in (OPTIONS_DOC, *sorted(p for p in DOCS.glob("*.md") if p != OPTIONS_DOC), ROOT / "README.md"):
        for index, rows in _option_tables(path):
            for row in rows:
                where = f"{path.relative_to(ROOT)}: table {index + 1}: {row[0]}"
                params.append(pytest.param(row, where, id=where))
    return params


ROWS = _rows()


def test_the_docs_have_option_tables() -> None:
    assert len(ROWS) > 100


@pytest.mark.parametrize(("row", "where"), ROWS)
def test_row_names_real_keys_and_their_defaults(row: list[str], where: str) -> None:
    defaults = _defaults()
    keys = _keys_of(row[0])
    assert keys, f"{where}: no `key` in the first cell"
    unknown = [key for key in keys if key not in defaults]
    assert unknown == [], f"{where}: not option keys: {unknown}"
    literals = backticked(row[1])
    if len(literals) == len(keys) and len(keys) > 1:
        documented = [_literal(text) for text in literals]
    else:
        assert literals, f"{where}: the default column has no `literal`"
        documented = [_literal(literals[0])] * len(keys)
    for key, value in zip(keys, documented, strict=True):
        assert _same(value, defaults[key]), (
            f"{where}: {key} defaults to {defaults[key]!r}, the docs say {value!r}"
        )
    for amount, unit in re.findall(r"\((\d+(?:\.\d+)?) ([KMG]iB)\)", row[1]):
        assert float(amount) * _UNITS[unit] == defaults[keys[0]], (
            f"{where}: ({amount} {unit}) is not the default"
        )


def test_every_built_in_key_has_a_row_in_options_md() -> None:
    documented = {key for _, rows in _option_tables(OPTIONS_DOC) for row in rows for key in _keys_of(row[0])}
    registered = tuple(f"{name}." for name in registered_sections())
    missing = [key for key in _defaults() if not key.startswith(registered) and key not in documented]
    assert missing == []


@pytest.mark.parametrize("section", SECTIONS)
def test_every_key_of_a_built_in_section_has_a_row(section: str) -> None:
    documented = {
        key
        for path in (OPTIONS_DOC, DOCS / f"{section}.md")
        if path.exists()
        for _, rows in _option_tables(path)
        for row in rows
        for key in _keys_of(row[0])
    }
    missing = [key for key in _defaults() if key.startswith(f"{section}.") and key not in documented]
    assert missing == [], f"not documented in docs/options.md or docs/{section}.md"


def test_legacy_keys_table_names_accepted_keys() -> None:
    """The "Legacy keys" table of options.md: each legacy key is accepted and each current key exists."""
    (table,) = [
        t
        for t in tables(OPTIONS_DOC.read_text(encoding="utf-8"))
        if t[0][:2] == ["legacy key", "current key"]
    ]
    options = Options()
    defaults = _defaults()
    for legacy, current in table[1:]:
        for key in backticked(legacy):
            assert key in options, f"legacy key {key} is not accepted"
        for key in _keys_of(current):
            assert key in defaults, f"{key} (for {legacy}) is not an option key"
