"""Land-cover words as people write them, mapped to CLC level-3 codes (text search).

Two sources, one table of phrases: every name of the CORINE legend at each level (class
"Coniferous forest", group "Forests", group "Wetlands") and a synonym table shipped beside the
legend (``data/clc_synonyms.csv``: "vines" -> 221, "conifers" -> 312) for the words the legend
lacks. Words are compared after :func:`catalog_schemas.clc_names.word_key` (case, accents and
plural endings do not matter), so a phrase matches "Vineyards", "vineyard" and "VINEYARDS"
alike. A name that is both
a group and a class ("Water bodies") means the group, as in category search.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from catalog_schemas import clc
from catalog_schemas.clc_names import word_key

_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")


@dataclass(frozen=True)
class LandCoverTerm:
    """One phrase of the table: what it matches and what it stands for."""

    phrase: str
    codes: tuple[int, ...]
    source: str  # "legend class", "legend group" or "synonym"


def words(text: str) -> list[str]:
    """The words of ``text`` (letters and digits, hyphenated and apostrophed words whole)."""
    return _WORD.findall(text)


def phrase_key(text: str) -> tuple[str, ...]:
    return tuple(word_key(w) for w in words(text))


@cache
def synonym_rows() -> tuple[LandCoverTerm, ...]:
    """The shipped synonym table, each code checked against the legend."""
    path = files("stac_api.text_search").joinpath("data/clc_synonyms.csv")
    text = path.read_text(encoding="utf-8")
    rows = []
    for row in csv.DictReader(text.splitlines()):
        codes = tuple(int(c) for c in row["codes"].split())
        for code in codes:
            clc.by_clc_code(code)  # an unknown code is a packaging error: fail loudly
        rows.append(LandCoverTerm(row["term"], codes, "synonym"))
    return tuple(rows)


@cache
def phrase_table() -> dict[tuple[str, ...], LandCoverTerm]:
    """Phrase key -> term. Synonyms first, then classes, then groups: a later entry wins, so
    legend names beat synonyms and groups beat classes of the same name."""
    table: dict[tuple[str, ...], LandCoverTerm] = {}
    for term in synonym_rows():
        table[phrase_key(term.phrase)] = term
    for c in clc.clc_classes():
        table[phrase_key(c.name)] = LandCoverTerm(c.name, (c.clc_code,), "legend class")
    for level in ("level2", "level1"):
        groups: dict[str, list[int]] = {}
        for c in clc.clc_classes():
            groups.setdefault(getattr(c, level), []).append(c.clc_code)
        for name, codes in groups.items():
            table[phrase_key(name)] = LandCoverTerm(name, tuple(codes), "legend group")
    return table


@cache
def longest_phrase() -> int:
    return max(len(key) for key in phrase_table())


def match(tokens: list[str], start: int) -> tuple[LandCoverTerm, int] | None:
    """The longest phrase of the table starting at ``tokens[start]``, and its length in words."""
    table = phrase_table()
    for length in range(min(longest_phrase(), len(tokens) - start), 0, -1):
        key = tuple(word_key(t) for t in tokens[start:start + length])
        if key in table:
            return table[key], length
    return None
