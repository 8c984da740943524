"""Word-level differences between two titles, for highlighting on the pair page (pure)."""

from __future__ import annotations

from difflib import SequenceMatcher


def title_diff(a: str, b: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Each title as (word, differs) pairs; words are compared case-insensitively."""
    words_a, words_b = a.split(), b.split()
    matcher = SequenceMatcher(a=[w.lower() for w in words_a], b=[w.lower() for w in words_b],
                              autojunk=False)  # fmt: skip
    same_a, same_b = set(), set()
    for block in matcher.get_matching_blocks():
        same_a.update(range(block.a, block.a + block.size))
        same_b.update(range(block.b, block.b + block.size))
    # A word present in both titles but moved is not a difference either.
    lower_a, lower_b = {w.lower() for w in words_a}, {w.lower() for w in words_b}
    left = [(w, i not in same_a and w.lower() not in lower_b) for i, w in enumerate(words_a)]
    right = [(w, i not in same_b and w.lower() not in lower_a) for i, w in enumerate(words_b)]
    return left, right
