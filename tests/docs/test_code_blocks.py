"""Every fenced ```python block of README.md and docs/*.md is Python that agrees with the code.

A block compiles as a module (``compile(..., "exec")``) unless the comment on the line right
before its fence says otherwise:

- ``<!-- fragment -->`` (or ``<!-- fragment: why -->``): part of a bigger file - methods cut out
  of a class body, the statements of an ``async def`` (``await``/``async with`` at the top). It
  is compiled dedented, with top-level ``await`` allowed.
- ``<!-- signature -->``: a synopsis such as ``tomodachi.http(method, url, *, ...)``. Each
  ``tomodachi.<name>(...)`` in it must exist and take the parameters listed, in that order and of
  the same kinds (positional, ``*args``, keyword-only, ``**kwargs``, the last two by kind only);
  every parameter without a default must be listed. A synopsis may leave out optional
  parameters; defaults are not compared.
- ``<!-- runs -->``: a complete example. It is executed as a module; then each of its
  ``async def test_*()`` functions is awaited, or, when it has none, each service class it
  defines is started and stopped with ``tomodachi.testing.run_services``.
- ``<!-- tested: ... -->``: run by another test module (named in the comment); compiled here.

Any other comment right before a python fence is an error (a misspelt marker must not silently
do nothing), and so is a marker that stands anywhere but right before a fence.

A failure names the block as ``docs/<file>.md:<line of the opening fence>``.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import re
import textwrap
from types import ModuleType
from typing import Any

import pytest

import tomodachi
from tomodachi.testing import run_services

from ._markdown import MARKDOWN_FILES, ROOT, CodeBlock, code_blocks, stray_markers

MARKERS = ("fragment", "signature", "runs", "tested")

PYTHON_BLOCKS = [
    block for path in MARKDOWN_FILES for block in code_blocks(path) if block.lang in ("python", "py")
]


def _blocks(marker: str = "*") -> list[Any]:
    """The python blocks with *marker* (``"*"``: all of them), as pytest params named file:line."""
    chosen = [block for block in PYTHON_BLOCKS if marker == "*" or block.marker == marker]
    return [pytest.param(block, id=block.where) for block in chosen]


def test_the_docs_have_python_blocks_and_every_marker_is_known() -> None:
    assert len(PYTHON_BLOCKS) > 50
    unknown = [
        f"{block.where}: <!-- {block.marker} -->"
        for block in PYTHON_BLOCKS
        if block.marker not in (None, *MARKERS)
    ]
    assert unknown == [], f"unknown markers (known: {', '.join(MARKERS)})"
    stray = [where for path in MARKDOWN_FILES for where in stray_markers(path, MARKERS)]
    assert stray == [], "a marker comment must stand on the line right before a code fence"
    marked_elsewhere = [
        f"{block.where}: ```{block.lang}"
        for path in MARKDOWN_FILES
        for block in code_blocks(path)
        if block.marker in MARKERS and block.lang not in ("python", "py")
    ]
    assert marked_elsewhere == [], "markers are for ```python blocks"


@pytest.mark.parametrize("block", _blocks())
def test_python_block_compiles(block: CodeBlock) -> None:
    if block.marker == "signature":
        return  # test_signature_block_matches_the_code
    try:
        if block.marker == "fragment":
            compile(textwrap.dedent(block.source), block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        else:
            compile(block.source, block.where, "exec")
    except SyntaxError as exc:
        hint = (
            ""
            if block.marker == "fragment"
            else " (a piece of a bigger file? put <!-- fragment --> on the line before the fence)"
        )
        line = block.line + (exc.lineno or 1)  # the line in the markdown file
        pytest.fail(
            f"{block.path.relative_to(ROOT)}:{line} (block at {block.where}): {exc.msg}{hint}", pytrace=False
        )


# -- signatures ------------------------------------------------------------------------------

_CALL = re.compile(r"(?:^|\n)[ \t]*(?:@|await[ \t]+)?(?P<name>tomodachi(?:\.\w+)+)\(")


def _synopses(source: str) -> list[tuple[str, str]]:
    """``(dotted name, parameter list)`` of each call synopsis in *source*."""
    found = []
    for match in _CALL.finditer(source):
        depth, index = 1, match.end()
        while depth:
            depth += source[index] in "([{"
            depth -= source[index] in ")]}"
            index += 1
        found.append((match.group("name"), source[match.end() : index - 1]))
    return found


def _resolve(dotted: str) -> Any:
    first, *rest = dotted.split(".")
    obj: Any = importlib.import_module(first)
    for part in rest:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            assert isinstance(obj, ModuleType), f"{dotted}: no attribute {part!r}"
            obj = importlib.import_module(f"{obj.__name__}.{part}")
    return obj


def _documented(params: str) -> list[tuple[str, str]]:
    tree = ast.parse(f"def _documented({params}\n):\n    pass\n")
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    args = func.args
    kinds: list[tuple[str, str]] = [(a.arg, "POSITIONAL_ONLY") for a in args.posonlyargs]
    kinds += [(a.arg, "POSITIONAL_OR_KEYWORD") for a in args.args]
    if args.vararg:
        kinds.append((args.vararg.arg, "VAR_POSITIONAL"))
    kinds += [(a.arg, "KEYWORD_ONLY") for a in args.kwonlyargs]
    if args.kwarg:
        kinds.append((args.kwarg.arg, "VAR_KEYWORD"))
    return kinds


def _kinds(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """*args and **kwargs are compared by kind only (``**envelope_kwargs`` is ``**kwargs``)."""
    return [("*", kind) if kind.startswith("VAR_") else (name, kind) for name, kind in params]


@pytest.mark.parametrize("block", _blocks("signature"))
def test_signature_block_matches_the_code(block: CodeBlock) -> None:
    synopses = _synopses(block.source)
    assert synopses, f"{block.where}: a signature block names no tomodachi.<name>(...)"
    for name, params in synopses:
        documented = _kinds(_documented(params))
        parameters = inspect.signature(_resolve(name)).parameters.values()
        actual = _kinds([(p.name, p.kind.name) for p in parameters])
        required = _kinds(
            [
                (p.name, p.kind.name)
                for p in parameters
                if p.default is p.empty and not p.kind.name.startswith("VAR_")
            ]
        )
        listed = [param for param in actual if param in documented]
        assert listed == documented, (
            f"{block.where}: {name}: the docs list {documented}, the code takes {actual}"
        )
        missing = [param for param in required if param not in documented]
        assert missing == [], f"{block.where}: {name}: required parameters not listed: {missing}"


# -- runnable examples -----------------------------------------------------------------------


@pytest.mark.parametrize("block", _blocks("runs"))
async def test_runnable_block_runs(block: CodeBlock) -> None:
    module_name = "docs_example_" + re.sub(r"\W", "_", block.where)
    namespace: dict[str, Any] = {"__name__": module_name}
    exec(compile(block.source, block.where, "exec"), namespace)
    tests = [
        func
        for name, func in namespace.items()
        if name.startswith("test_") and inspect.iscoroutinefunction(func)
    ]
    for test in tests:
        await asyncio.wait_for(test(), 5)
    if tests:
        return
    services = [
        cls
        for cls in namespace.values()
        if isinstance(cls, type) and issubclass(cls, tomodachi.Service) and cls.__module__ == module_name
    ]
    for service in services:
        async with run_services(service) as app:
            assert app.service.ready, f"{block.where}: {service.__name__} did not become ready"


def test_some_examples_are_run() -> None:
    assert len(_blocks("runs")) >= 4
