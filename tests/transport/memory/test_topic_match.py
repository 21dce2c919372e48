"""AMQP topic-exchange patterns: ``*`` is one word, ``#`` is zero or more words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tomodachi.transport.memory.topic_match import topic_matches


def _words(text: str) -> list[str]:
    return text.split(".") if text else []  # "" is a key of zero words, as in RabbitMQ


def _reference(pattern: list[str], key: list[str]) -> bool:
    """A direct, slow, obviously-correct recursive matcher."""
    if not pattern:
        return not key
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_reference(rest, key[i:]) for i in range(len(key) + 1))
    return bool(key) and head in ("*", key[0]) and _reference(rest, key[1:])


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("#", "", True),
        ("#", "a", True),
        ("#", "a.b.c", True),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("a.#", "b.a", False),
        ("#.z", "z", True),
        ("#.z", "x.y.z", True),
        ("#.z", "z.x", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.c", False),
        ("a.*.c", "a.b.b.c", False),
        ("*", "", False),
        ("*", "a", True),
        ("*", "a.b", False),
        ("a.#.b", "a.b", True),
        ("a.#.b", "a.x.y.b", True),
        ("a.#.#.b", "a.b", True),
        ("#.#", "", True),
        ("order.created", "order.created", True),
        ("order.created", "order.updated", False),
        ("", "", True),
        ("", "a", False),
        ("a..b", "a..b", True),
        ("a.*.b", "a..b", True),  # the empty middle word is still a word
        ("a+.(b)", "a+.(b)", True),  # regex metacharacters are plain text
        ("a+.(b)", "aa.b", False),
        ("a.*", "a.b\nc", True),
    ],
)
def test_examples(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


_pattern_word = st.sampled_from(["a", "b", "", "*", "#", "a+"])
_key_word = st.sampled_from(["a", "b", "", "a+"])


@given(
    st.lists(_pattern_word, max_size=6).map(".".join),
    st.lists(_key_word, max_size=7).map(".".join),
)
def test_agrees_with_the_reference_matcher(pattern: str, key: str) -> None:
    assert topic_matches(pattern, key) is _reference(_words(pattern), _words(key))
