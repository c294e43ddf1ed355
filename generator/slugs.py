"""Ids and slugs from free text: for the file `briefing new article` writes, and for the example
an error about an invalid id gives (`invalid tag 'безпека' (… like 'bezpeka')`)."""
from __future__ import annotations

import re
import unicodedata

# Cyrillic to Latin: Ukrainian by the national system of 2010 (Київ → kyiv,
# Харків → kharkiv), Russian much as BGN/PCGN, without its marks (Москва → moskva, объём → obyom).
# Where a letter is spelt otherwise at the start of a word, that spelling comes second.
_UKRAINIAN = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": ("ie", "ye"),
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": ("i", "yi"), "й": ("i", "y"), "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": ("iu", "yu"),
    "я": ("ia", "ya"), "'": "", "’": "", "ʼ": "",
}
_APOSTROPHES = "'’ʼ"
_RUSSIAN = {
    **{letter: spelling for letter, spelling in _UKRAINIAN.items() if letter not in "гєиіїй"},
    "г": "g", "ё": "yo", "и": "i", "й": "y", "ъ": "", "ы": "y", "э": "e", "ю": "yu", "я": "ya",
}
# Latin letters that Unicode does not decompose into a base letter and an accent
_LATIN = {"ß": "ss", "ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "ı": "i"}


def slug_of(text: str) -> str:
    """Lowercase ASCII letters and digits joined by single hyphens (FORMAT.md's ids and slugs),
    Cyrillic transliterated and accents dropped (Переговори в Женеві → perehovory-v-zhenevi,
    Genève → geneve); empty when nothing in `text` can be kept."""
    text = unicodedata.normalize("NFC", text.lower())
    # text with ы, э, ё or ъ is Russian; any other Cyrillic is read as Ukrainian
    ukrainian = re.search("[ыэёъ]", text) is None
    table = _UKRAINIAN if ukrainian else _RUSSIAN
    latin = []
    for i, char in enumerate(text):
        spelling = table.get(char, _LATIN.get(char, char))
        if isinstance(spelling, tuple):   # (an apostrophe inside a word is no start: п'ять → piat)
            spelling = spelling[1] if i == 0 or not (text[i - 1].isalpha() or text[i - 1] in _APOSTROPHES) \
                else spelling[0]
        elif ukrainian and char == "г" and i and text[i - 1] == "з":
            spelling = "gh"    # зг is zgh, so that it does not read as ж (zh)
        latin.append(spelling)
    decomposed = unicodedata.normalize("NFKD", "".join(latin))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")
