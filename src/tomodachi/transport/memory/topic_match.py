"""AMQP topic-exchange pattern matching (the ``*`` and ``#`` wildcards of RabbitMQ bindings).

A routing key and a binding pattern are lists of words separated by ``.``. In a pattern,
``*`` matches exactly one word and ``#`` matches zero or more words; any other word matches
itself. As in RabbitMQ, the empty string is a key of *zero* words (so ``#`` matches it and
``*`` does not), while ``"a..b"`` has three words, the middle one empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["topic_matches"]


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether the binding *pattern* matches *routing_key* under AMQP topic-exchange rules.

    >>> topic_matches("order.*.created", "order.eu.created")
    True
    >>> topic_matches("order.#", "order")
    True
    >>> topic_matches("*", "")
    False
    """
    return _compile(pattern)(routing_key)


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> Callable[[str], bool]:
    """A matcher for *pattern*; cached because routing runs it once per binding per message."""
    words = pattern.split(".") if pattern else []
    if "*" not in words and "#" not in words:
        return lambda key: key == pattern  # a literal pattern: plain equality
    # ``#.#`` means the same as ``#``; collapsing the run keeps the regex from backtracking
    # over the same words several ways.
    collapsed: list[str] = []
    for word in words:
        if not (word == "#" and collapsed and collapsed[-1] == "#"):
            collapsed.append(word)
    if collapsed == ["#"]:
        return lambda _key: True
    # The regex runs over the key with a "." in front of every word ("a.b" -> ".a.b", "" -> ""),
    # so each pattern word is a self-contained unit: "*" is one word, "#" is any number of them,
    # and no special case is needed for the separators around a "#" that matches nothing.
    parts = []
    for word in collapsed:
        if word == "#":
            parts.append(r"(?:\.[^.]*)*")
        elif word == "*":
            parts.append(r"\.[^.]*")
        else:
            parts.append(r"\." + re.escape(word))
    fullmatch = re.compile("".join(parts), re.DOTALL).fullmatch
    return lambda key: fullmatch("." + key if key else "") is not None
