"""docs/cli.md (and the README, docs/dead_letters.md, ``tomodachi --help``) agree with the parser.

The flags are read from the code, not listed here: every flag-like string of
``tomodachi/cli/_parse.py`` that ``parse_run_arguments`` accepts is a flag of ``tomodachi run``
(a flag it does not know fails with ``option <flag> not recognized.``). So a flag added to the
parser must get a row in docs/cli.md and a line in the help, and a documented flag must exist.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import tomodachi.cli as cli
from tomodachi.cli import _parse
from tomodachi.cli._dlq import DLQ_FLAGS
from tomodachi.cli._dlq_text import dlq_usage_text
from tomodachi.cli._text import usage_text

from ._markdown import DOCS, ROOT, backticked, code_blocks, tables

CLI_DOC = DOCS / "cli.md"
_FLAG = re.compile(r"-{1,2}[A-Za-z][A-Za-z0-9-]*")


def _accepted(flag: str) -> bool:
    """Does ``tomodachi run`` know *flag*? (A value that is wrong for it is fine here.)"""
    try:
        _parse.parse_run_arguments([flag, "h10-value", "app.py"], environ={})
    except _parse.UsageError as exc:
        return exc.message != f"option {flag} not recognized."
    return True


def _run_flags() -> set[str]:
    source = Path(_parse.__file__).read_text(encoding="utf-8")
    strings = {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _FLAG.fullmatch(node.value)
    }
    return {flag for flag in strings if _accepted(flag)}


RUN_FLAGS = _run_flags()


def _flags_in(cell: str) -> set[str]:
    """The flags a table cell names: `--loop X`, `-l`, `--log-level LEVEL`, `--loop auto|asyncio`."""
    return {span.split()[0].split("=")[0] for span in backticked(cell) if _FLAG.match(span)}


def _table(path: Path, header: list[str]) -> list[list[str]]:
    found = [t for t in tables(path.read_text(encoding="utf-8")) if [c.lower() for c in t[0]] == header]
    assert len(found) == 1, f"{path.name}: expected one table with the header {header}, found {len(found)}"
    return found[0][1:]


def _help_flags(text: str, start: str, end: str) -> set[str]:
    section = text.split(start, 1)[1].split(end, 1)[0]
    return {match.group(0) for match in re.finditer(r"(?<![\w-])-{1,2}[A-Za-z][A-Za-z0-9-]*", section)}


def test_the_parser_tables_are_read() -> None:
    assert {"--production", "--loop", "-l", "--log-level", "-c", "--config", "-h", "--help"} <= RUN_FLAGS
    assert not _accepted("--h10-no-such-flag")


def test_every_run_flag_is_in_the_table_of_cli_md_and_every_row_is_a_flag() -> None:
    rows = _table(CLI_DOC, ["option", "environment variable", "values"])
    documented = set().union(*(_flags_in(row[0]) for row in rows))
    assert sorted(RUN_FLAGS - documented) == [], "accepted by `tomodachi run`, missing in docs/cli.md"
    assert sorted(documented - RUN_FLAGS) == [], "in docs/cli.md, not accepted by `tomodachi run`"


def test_the_environment_variables_of_cli_md_are_the_parsers() -> None:
    rows = _table(CLI_DOC, ["option", "environment variable", "values"])
    documented = {name for row in rows for name in re.findall(r"`(TOMODACHI_[A-Z_]+)`", row[1])}
    assert documented == set(_parse._ENV.values())
    help_text = usage_text()
    assert [name for name in sorted(documented) if name not in help_text] == [], "not in tomodachi --help"


def test_the_help_lists_every_run_flag_and_no_other() -> None:
    listed = _help_flags(usage_text(), "\nOptions:\n", "\nOther commands:\n")
    assert sorted(RUN_FLAGS - listed) == [], "missing in the Options of tomodachi --help"
    assert sorted(listed - RUN_FLAGS) == [], "in the Options of tomodachi --help, not accepted"


def test_the_command_synopsis_lists_the_global_flags() -> None:
    synopsis = code_blocks(CLI_DOC)[0].source
    help_text = usage_text()
    for flag in (*cli._VERSION_FLAGS, *cli._DEPENDENCY_FLAGS, *_parse.HELP_FLAGS):
        assert re.search(rf"(?<![\w-]){flag}(?![\w-])", synopsis), (
            f"{flag} missing in the synopsis of docs/cli.md"
        )
        assert re.search(rf"(?<![\w-]){flag}(?![\w-])", help_text), f"{flag} missing in tomodachi --help"


def test_the_readme_flag_table_names_accepted_flags() -> None:
    rows = _table(ROOT / "README.md", ["flag", "environment variable", "meaning"])
    documented = set().union(*(_flags_in(row[0]) for row in rows))
    assert documented, "the README lost its flag table"
    assert sorted(documented - RUN_FLAGS) == []


@pytest.mark.parametrize("path", [CLI_DOC, DOCS / "dead_letters.md"], ids=lambda p: p.name)
def test_the_dlq_flag_tables_are_the_parsers(path: Path) -> None:
    rows = [
        row
        for row in tables(path.read_text(encoding="utf-8"))
        if [c.lower() for c in row[0][:2]] == ["option", "commands"]
    ]
    assert len(rows) == 1, f"{path.name}: expected one `tomodachi dlq` option table"
    documented = set().union(*(_flags_in(row[0]) for row in rows[0][1:]))
    assert documented == set(DLQ_FLAGS)


def test_the_dlq_help_lists_its_flags() -> None:
    assert _help_flags(dlq_usage_text(), "\nOptions:\n", "\nExit codes:") == set(DLQ_FLAGS)
