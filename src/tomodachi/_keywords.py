"""Keyword typos in decorator arguments get a "did you mean" suggestion.

Python's own ``TypeError`` for an unexpected keyword names it but suggests nothing; the
decorators are called once, at import, so checking their keywords costs nothing per request.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Collection
from typing import ParamSpec, TypeVar

__all__ = ["nearest", "suggest_keywords"]

P = ParamSpec("P")
R = TypeVar("R")


def nearest(name: str, known: Collection[str], cutoff: float = 0.6) -> str | None:
    """The name of *known* closest to *name* (a likely typo of it), or None."""
    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=cutoff)
    return found[0] if found else None


def suggest_keywords(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a decorator factory so an unknown keyword raises ``TypeError`` with a suggestion."""
    parameters = inspect.signature(func).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return func  # takes any keyword: it checks them itself
    known = tuple(
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )

    @functools.wraps(func)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        for key in kwargs:
            if key not in known:
                close = nearest(key, known)
                hint = f"; did you mean {close!r}?" if close else f" (it takes {', '.join(known)})"
                raise TypeError(f"@{func.__name__}() got an unexpected keyword argument {key!r}{hint}")
        return func(*args, **kwargs)

    return checked
