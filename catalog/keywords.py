"""The spellings of a shopper's words that full-text search tries besides the words as typed.

PostgreSQL's parser reads "T-Shirt" as the compound ``t-shirt`` (with its parts ``t`` and
``shirt``), so a query for "tshirts" finds no listing that spells it with a hyphen, and a query
for "t-shirt" none that spells it "Tshirt". The same holds for every compound a catalog spells
one way and a shopper another ("sweat-shirt", "flip-flops", "wi-fi"), and for model numbers:
a shopper types "dir412" for a listing's "DIR-412". A query therefore also tries each of its
words with the hyphen dropped, each word of four letters or more with a hyphen put in, each
code of letters and digits with a hyphen put in ("dir412" → "dir-412"; a spelling matches
only where the catalog holds that compound), and each two neighbouring words
written as one ("hand bag" and "handbag", "iphone 12" and "iphone12"). The variants are OR-ed
with the query, so a listing that matches the words as typed still matches.

A code with two or more hyphens ("MDR-XB40-EX") is not reached this way (one hyphen is put in,
not two): the search document holds such words joined (``catalog.models.multi_hyphen_joined``).

A query that uses websearch syntax (quotes, "or", a leading "-" for "without") is left as
typed: a re-spelt negated word would no longer exclude anything.
"""

from __future__ import annotations

import re

from django.conf import settings

# A word of letters or digits, or such words joined by hyphens ("t-shirt", "wi-fi", "DIR-412").
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
WEBSEARCH_SYNTAX = re.compile(r'"|(?:^|\s)-|\bor\b', re.IGNORECASE)

# Only words this long are split, and only where at least this many letters follow the hyphen
# ("t-shirt", "e-book", "flip-flop"): a compound's second part is a word of its own.
MIN_SPLIT_LETTERS = 4
MIN_SECOND_PART = 3
# The most variants a query carries besides itself (a long query's later words go unsplit).
MAX_VARIANTS = 32


def word_spellings(word: str) -> list[str]:
    """The other spellings of one word: a hyphenated word joined ("t-shirt" → "tshirt",
    "DIR-412" → "DIR412"); a word of letters only, ``MIN_SPLIT_LETTERS`` or more, split wherever
    ``MIN_SECOND_PART`` letters or more follow ("tshirt" → "t-shirt", "ts-hirt", "tsh-irt"); a
    code of letters and digits split at each place ("DIR412" → "D-IR412", …, "DIR-412", …;
    catalogs put a code's hyphen anywhere: "KX-TGA670B", "U022-010"); none for a shorter word
    or a number. Pure."""
    if "-" in word:
        return [word.replace("-", "")]
    if word.isalpha():
        if len(word) < MIN_SPLIT_LETTERS:
            return []
        return [f"{word[:i]}-{word[i:]}" for i in range(1, len(word) - MIN_SECOND_PART + 1)]
    if word.isdigit():
        return []
    return [f"{word[:i]}-{word[i:]}" for i in range(1, len(word))]


def keyword_variants(text: str) -> list[str]:
    """``text`` first, then each spelling of it with one compound written another way, without
    repeats and at most ``MAX_VARIANTS`` of them. Pure; the caller ORs their ``websearch``
    queries."""
    if WEBSEARCH_SYNTAX.search(text):
        return [text]
    # whole tokens only: "men" of "men's" is not a word to respell
    words = [token for token in re.finditer(r"\S+", text) if _WORD.fullmatch(token.group())]
    joins: list[str] = []
    splits: list[str] = []

    def respelt(start: int, end: int, spelling: str) -> str:
        return text[:start] + spelling + text[end:]

    for match in words:
        spellings = [respelt(match.start(), match.end(), s) for s in word_spellings(match.group())]
        (joins if "-" in match.group() else splits).extend(spellings)
    for left, right in zip(words, words[1:], strict=False):
        between = text[left.end() : right.start()]
        if between.isspace() and "-" not in left.group() + right.group():
            joins.append(respelt(left.start(), right.end(), left.group() + right.group()))
    variants = [text]
    for variant in joins + splits:
        if variant not in variants and len(variants) <= MAX_VARIANTS:
            variants.append(variant)
    return variants


def query_spellings(text: str) -> list[str]:
    """The spellings full-text search ORs for ``text``: :func:`keyword_variants`, or ``text``
    alone when ``SEARCH_KEYWORD_SPELLINGS`` is off."""
    return keyword_variants(text) if settings.SEARCH_KEYWORD_SPELLINGS else [text]
