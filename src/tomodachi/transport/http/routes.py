"""The router: regex URL patterns to endpoints, with an exact-path fast path.

Every route URL is a regular expression matched against the whole (decoded) request path; it is
normalised to ``^...$``. A pattern without regex special characters (``/health``) goes into a
dict and costs one lookup; the others are tried in registration order. ``GET`` routes also
answer ``HEAD``. An unknown path resolves to nothing (404); a known path with another method
resolves to the set of allowed methods (405 with ``Allow``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

__all__ = ["Router", "compile_url", "normalise_url"]

E = TypeVar("E")

_SPECIAL = frozenset("\\.^$*+?{}[]|()")
_NO_GROUPS: Mapping[str, str | None] = {}
_NONE_ALLOWED: frozenset[str] = frozenset()


def normalise_url(url: str) -> str:
    """``"/x"``, ``"^/x"``, ``"/x$"`` and ``"^/x$"`` all become ``"^/x$"``."""
    core = url[1:] if url.startswith("^") else url
    if core.endswith("$") and not core.endswith("\\$"):
        core = core[:-1]
    return f"^{core}$"


def compile_url(url: str) -> re.Pattern[str]:
    """Compile a route URL; raises ``re.error`` for an invalid pattern."""
    return re.compile(normalise_url(url))


def literal_path(pattern: str) -> str | None:
    """The literal path a normalised pattern matches, or None when it uses regex syntax."""
    core = pattern[1:-1]
    if any(char in _SPECIAL for char in core):
        return None
    return core


class Router(Generic[E]):
    """Maps ``(method, path)`` to an endpoint of type *E* and the named groups of the match."""

    __slots__ = ("_exact", "_patterns")

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, E]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, E]]] = []

    def add(self, methods: Iterable[str], url: str, endpoint: E) -> None:
        """Register *endpoint* for *methods* on *url* (a regex); ``GET`` implies ``HEAD``.

        Raises ``re.error`` for an invalid pattern and ``ValueError`` for a duplicate route.
        """
        compiled = compile_url(url)
        literal = literal_path(compiled.pattern)
        if literal is not None:
            table = self._exact.setdefault(literal, {})
        else:
            for pattern, existing in self._patterns:
                if pattern.pattern == compiled.pattern:
                    table = existing
                    break
            else:
                table = {}
                self._patterns.append((compiled, table))
        methods = list(methods)
        for method in methods:
            implicit_head = method == "HEAD" and "GET" in table and table.get("HEAD") is table["GET"]
            if method in table and not implicit_head:
                raise ValueError(f"duplicate route: {method} {url!r} is already registered")
            table[method] = endpoint
        if "GET" in methods and "HEAD" not in table:
            table["HEAD"] = endpoint

    def resolve(self, method: str, path: str) -> tuple[E | None, Mapping[str, str | None], frozenset[str]]:
        """``(endpoint, groups, allowed)``: endpoint None with empty *allowed* means 404, else 405."""
        table = self._exact.get(path)
        if table is not None:
            endpoint = table.get(method)
            if endpoint is not None:
                return endpoint, _NO_GROUPS, _NONE_ALLOWED
            allowed = set(table)
        else:
            allowed = set()
        for pattern, table in self._patterns:
            match = pattern.fullmatch(path)
            if match is not None:
                endpoint = table.get(method)
                if endpoint is not None:
                    return endpoint, match.groupdict(), _NONE_ALLOWED
                allowed.update(table)
        return None, _NO_GROUPS, frozenset(allowed)

    def url_of(self, endpoint: E) -> str | None:
        """The URL *endpoint* is served on: the literal path of an exact route, else the pattern."""
        for path, table in self._exact.items():
            if any(e is endpoint for e in table.values()):
                return path
        for pattern, table in self._patterns:
            if any(e is endpoint for e in table.values()):
                return pattern.pattern
        return None

    def __len__(self) -> int:
        return sum(len(t) for t in self._exact.values()) + sum(len(t) for _, t in self._patterns)

    def routes(self) -> list[tuple[str, str]]:
        """``(method, pattern)`` pairs, exact paths first (for diagnostics and discovery)."""
        pairs = [(m, f"^{path}$") for path, table in self._exact.items() for m in table]
        pairs.extend((m, p.pattern) for p, table in self._patterns for m in table)
        return pairs
