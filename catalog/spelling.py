"""Spelling correction of a shopper's query against the catalog's own words ("did you mean").

One typo breaks every channel of text search: full-text search finds no "jeasn", and the text
tower reads "backpcks" as something else. A query word that no listing's title or category
uses is therefore replaced by the catalog word nearest to it, when one is close enough:

- within the edits Elasticsearch's ``fuzziness: AUTO`` allows (Damerau-Levenshtein: a swap of
  two neighbouring letters is one edit): none for words of one or two letters, one for three to
  five letters, two for longer words;
- the nearest word wins, then one with the same first letter (typists rarely miss the first
  letter: Pollock and Zamora, 1984, found 7% of misspellings there), then the one more listings
  use, then the first in alphabetical order (the same query is always corrected the same way);
- words the catalog uses, words with digits (codes) and queries in websearch syntax (quotes,
  "or", "-word") are left as typed;
- so are English words (pyspellchecker's dictionary: "garden hose" in a fashion shop is a query
  for something the shop does not sell, not a typo of "green rose"), unless a word of the
  shop's own vocabulary one edit away is ``SEARCH_SPELLING_ENGLISH_RATIO`` times as common in
  English ("blu" → "blue", "gey" → "grey"; "hose" stays: "rose" is only 4 times as common). The
  shop's own vocabulary: words at least ``DOMAIN_LIFT`` times as common in its listings' titles
  as in English ("blue" in a fashion shop; not "in", "do" or "man", which would otherwise take
  "ink", "dog" and "fan").

The catalog's words (the lexicon) are read from PostgreSQL, active products' titles and
category names, and kept in the process; after ``SEARCH_SPELLING_LEXICON_SECONDS`` a thread
reads them again while searches go on with the words kept.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from functools import lru_cache

from django.conf import settings
from django.db import connection
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from catalog.keywords import WEBSEARCH_SYNTAX
from catalog.models import Category, Product, ProductStatus

_WORD = re.compile(r"[^\W\d_]+")
# a whitespace-delimited token: punctuation that only opens or closes it, and what it holds
_TOKEN = re.compile(r"""(?<!\S)[(\[{"'«]*(?P<word>\S*?)[)\]}"'».,;:!?]*(?!\S)""")


# A domain word is this many times as common in the listings' titles as in English: 100 to
# 11,000 for the colours and item types of the validation gallery, 0.1 to 6 for "in", "do",
# "over", "man" and "power" (docs/benchmarks.md, "Spelling correction").
DOMAIN_LIFT = 50.0


def max_edits(word: str) -> int:
    """Elasticsearch's AUTO fuzziness: 0 edits for 1-2 letters, 1 for 3-5, 2 for more."""
    if len(word) <= 2:
        return 0
    return 1 if len(word) <= 5 else 2


@dataclasses.dataclass(frozen=True)
class Lexicon:
    """The catalog's words (lower case) and how many listings use each."""

    counts: dict[str, int]
    # words that are spelt right although no listing uses them (English words), with how common
    # each is in English
    known: dict[str, int] = dataclasses.field(default_factory=dict)
    # an English word is a typo of a domain word one edit away at least this many times as
    # common in English (0: English words are never corrected)
    english_ratio: float = 0.0
    # how many listings the counts are over
    listings: int = 0

    def __post_init__(self):
        object.__setattr__(self, "words", sorted(self.counts))
        object.__setattr__(self, "english_total", sum(self.known.values()))
        # the only words an English word may become: English, and the shop's own vocabulary
        domain = [w for w in self.words if self.known.get(w, 0) > 0 and self.domain_word(w)]
        object.__setattr__(self, "domain_words", domain)
        object.__setattr__(self, "domain_most", max((self.known[w] for w in domain), default=0))

    def domain_word(self, word: str) -> bool:
        """Whether ``word`` is at least ``DOMAIN_LIFT`` times as common in the listings' titles
        (the share of listings using it) as in English. Pure."""
        english = self.known.get(word, 0) / self.english_total if self.english_total else 0.0
        listed = self.counts.get(word, 0) / self.listings if self.listings else 0.0
        return listed > 0 and listed >= DOMAIN_LIFT * english

    def nearest(self, word: str) -> str | None:
        """The catalog word that replaces ``word``, or None (``word`` is the catalog's, or no
        catalog word is close enough). Pure."""
        word = word.lower()
        edits = max_edits(word)
        if not edits or word in self.counts:
            return None
        words, common = self.words, 0.0
        if word in self.known:
            common = self.english_ratio * self.known[word]
            # no scan for a common word ("for", "with"): no domain word is common enough
            if self.english_ratio <= 0 or common > self.domain_most:
                return None
            words, edits = self.domain_words, 1
        found = process.extract(
            word, words, scorer=DamerauLevenshtein.distance, score_cutoff=edits, limit=None
        )
        if common:
            found = [hit for hit in found if self.known[hit[0]] >= common]
        if not found:
            return None
        best = min(
            found,
            key=lambda hit: (hit[1], hit[0][0] != word[0], -self.counts[hit[0]], hit[0]),
        )
        return best[0]


def corrected(text: str, lexicon: Lexicon) -> str | None:
    """``text`` with each word the catalog does not use replaced by its nearest catalog word, or
    None when nothing changes. Pure."""
    if not text or WEBSEARCH_SYNTAX.search(text):
        return None
    pieces, last, changed = [], 0, False
    for token in _TOKEN.finditer(text):
        # a token with digits or hyphens ("DIR-412", "t-shirt") is left alone; punctuation that
        # opens or closes a word ("scraf,", "(jeasn)") is not part of it
        if not _WORD.fullmatch(token.group("word")):
            continue
        start, end = token.span("word")
        replacement = lexicon.nearest(token.group("word"))
        if replacement is None:
            continue
        pieces += [text[last:start], replacement]
        last, changed = end, True
    if not changed:
        return None
    return "".join(pieces) + text[last:]


_LEXICON_SQL = f"""
SELECT word, count(*) FROM (
    SELECT DISTINCT p.id, word
    FROM {Product._meta.db_table} p,
         regexp_split_to_table(lower(p.title), '[^[:alpha:]]+') AS word
    WHERE p.status = %s
) listed
WHERE length(word) >= 2
GROUP BY word
"""

_cache: dict[str, object] = {"at": None, "lexicon": None, "rebuilding": False}
_lock = threading.Lock()
logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def english_words() -> dict[str, int]:
    """pyspellchecker's English dictionary (lower case): {word: how often it occurs}."""
    from spellchecker import SpellChecker  # noqa: PLC0415 (a 160,000-word table, read once)

    return dict(SpellChecker(language="en").word_frequency.dictionary)


def lexicon_build() -> Lexicon:
    """The lexicon as the database holds it now."""
    with connection.cursor() as cursor:
        cursor.execute(_LEXICON_SQL, [ProductStatus.ACTIVE])
        counts = {word: int(n) for word, n in cursor.fetchall()}
    for name in Category.objects.values_list("name", flat=True):
        for word in _WORD.findall(name.lower()):
            if len(word) >= 2:
                counts.setdefault(word, 1)
    return Lexicon(
        counts,
        known=english_words(),
        english_ratio=float(settings.SEARCH_SPELLING_ENGLISH_RATIO),
        listings=Product.objects.filter(status=ProductStatus.ACTIVE).count(),
    )


def lexicon() -> Lexicon:
    """The catalog's lexicon. The first call builds it; after
    ``SEARCH_SPELLING_LEXICON_SECONDS`` the next call starts a rebuild in a thread and keeps
    answering from the lexicon it has (reading a large catalog's titles takes seconds: about 2 s
    per 100,000 titles here), so no search waits for it."""
    with _lock:
        kept, at = _cache["lexicon"], _cache["at"]
        if kept is None:
            kept = _cache["lexicon"] = lexicon_build()
            _cache["at"] = time.monotonic()
        elif (
            time.monotonic() - at > float(settings.SEARCH_SPELLING_LEXICON_SECONDS)
            and not _cache["rebuilding"]
        ):
            _cache["rebuilding"] = True
            threading.Thread(target=_rebuild, name="spelling-lexicon", daemon=True).start()
        return kept


def _rebuild() -> None:
    try:
        built = lexicon_build()
    except Exception:  # keep the old lexicon; the next stale call tries again
        logger.exception("the spelling lexicon could not be rebuilt")
        built = None
    finally:
        connection.close()  # this thread's own connection
    with _lock:
        if built is not None:
            _cache["lexicon"] = built
        _cache["at"] = time.monotonic()
        _cache["rebuilding"] = False


def lexicon_clear() -> None:
    """Forget the kept lexicon (the next query reads the catalog again)."""
    with _lock:
        _cache["at"] = None
        _cache["lexicon"] = None


def query_corrected(text: str) -> str | None:
    """:func:`corrected` against the catalog's lexicon, or None when ``SEARCH_SPELLING`` is off
    or nothing changes."""
    if not settings.SEARCH_SPELLING or not text or not text.strip():
        return None
    return corrected(text, lexicon())
