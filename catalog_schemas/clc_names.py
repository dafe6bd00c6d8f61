"""How names of the CORINE legend compare when people or other datasets write them.

Without case, accents or plural endings: "Vineyards", "vineyard" and "VINEYARDS" are one name,
as are BigEarthNet's "Peatbogs" and the legend's "Peat bogs" once split into words. Text search
(``stac_api.text_search``) matches the words of a query this way, the real-patch samples
(``samples.real_patches``) match BigEarthNet's class names to the legend's.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents: "Écrins" -> "ecrins"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def word_key(word: str) -> str:
    """A word without case, accents or plural ending: "Marshes" -> "marsh", "bodies" -> "body"."""
    word = fold(word)
    if len(word) <= 3:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
