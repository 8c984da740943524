"""How often full-text search finds a listing whose model number the shopper types with the
hyphen elsewhere ("dir412" for "DIR-412", "kx-tga670b" for "KXTGA670B"), with the compound
spellings of :mod:`catalog.keywords` off and on.

The titles are the shared benchmarks' (Abt-Buy and Walmart-Amazon train splits, both sides):
each code of 4+ characters with letters and digits becomes a query, spelt the other way (a
hyphenated code joined; a joined code with a hyphen where its letters first meet its digits),
and a case counts as found when the title's ``to_tsvector`` matches one of the query's
spellings. No product is written; PostgreSQL does the matching::

    python manage.py shell -c "from visualsearch.lab.code_spellings import main; main()"
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from django.db import connection
from django.test import override_settings

from catalog.keywords import query_spellings
from catalog.models import MULTI_HYPHEN_WORD

# the shared benchmarks (visualsearch does not import dedupe, which sits above it)
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "er_magellan_products"
SETS = ("walmart_amazon", "abt_buy")
_CODE = re.compile(r"(?<![\w-])(?=[\w-]*[^\W\d_])(?=[\w-]*\d)[^\W_]+(?:-[^\W_]+)*(?![\w-])")
_FIRST_CUT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
JOINED = "hyphenated in the title, typed joined"
HYPHENATED = "joined in the title, typed with a hyphen"


def titles(data: Path = DATA) -> list[str]:
    found: set[str] = set()
    for name in SETS:
        with open(data / name / "train.csv", newline="") as f:
            for row in csv.DictReader(f):
                for side in ("left", "right"):
                    if title := row.get(f"{side}_title") or row.get(f"{side}_name"):
                        found.add(title)
    return sorted(found)


def cases(all_titles: list[str]) -> list[tuple[str, str, str]]:
    """(kind, query, title) for each code of each title."""
    out = []
    for title in all_titles:
        for match in _CODE.finditer(title):
            code = match.group()
            if len(code) < 4:
                continue
            if "-" in code:
                out.append((JOINED, code.replace("-", ""), title))
            elif cut := _FIRST_CUT.search(code):
                out.append((HYPHENATED, f"{code[: cut.start()]}-{code[cut.start() :]}", title))
    return out


# the title's part of Product.search_document: its words, and those with two or more hyphens
# also joined (catalog.models.multi_hyphen_joined)
_DOCUMENT = (
    "(to_tsvector('english', %s) || to_tsvector('english', "
    "replace(regexp_replace(%s, %s, '\\1', 'g'), '-', '')))"
)


def _found(spellings: list[str], title: str, *, document: bool = True) -> bool:
    vector = _DOCUMENT if document else "to_tsvector('english', %s)"
    test = f"{vector} @@ websearch_to_tsquery('english', %s)"
    title_args = [title, title, MULTI_HYPHEN_WORD] if document else [title]
    args = [value for spelling in spellings for value in (*title_args, spelling)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + " OR ".join([test] * len(spellings)), args)
        return bool(cursor.fetchone()[0])


def main(data: Path = DATA) -> dict[str, tuple[int, float, float, float]]:
    all_cases = cases(titles(data))
    total, off, on, title_only = Counter(), Counter(), Counter(), Counter()
    for kind, query, title in all_cases:
        kind = f"{kind}, 2+ hyphens" if title_hyphens(query, title) >= 2 else kind
        total[kind] += 1
        with override_settings(SEARCH_KEYWORD_SPELLINGS=False):
            off[kind] += _found(query_spellings(query), title)
        on[kind] += _found(query_spellings(query), title)
        title_only[kind] += _found(query_spellings(query), title, document=False)
    print("| the code in the title, as the shopper types it | cases | found, spellings off | on "
          "| on, the title's words only (no joined codes of 2+ hyphens) |")  # fmt: skip
    print("|---|---|---|---|---|")
    result = {}
    for kind in sorted(total):
        n = total[kind]
        result[kind] = (n, off[kind] / n, on[kind] / n, title_only[kind] / n)
        print(f"| {kind} | {n} | {off[kind] / n:.3f} | {on[kind] / n:.3f} "
              f"| {title_only[kind] / n:.3f} |")  # fmt: skip
    return result


def title_hyphens(query: str, title: str) -> int:
    """How many hyphens the title's spelling of the code ``query`` (typed joined) has; 0 when
    the query is not a joined code of the title."""
    for match in _CODE.finditer(title):
        if match.group().replace("-", "").lower() == query.lower():
            return match.group().count("-")
    return 0
