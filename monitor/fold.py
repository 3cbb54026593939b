"""Text folding applied before FTS5 tokenizes anything: releases (archive and batch) and queries.

SQLite's `unicode61 remove_diacritics 2` lowercases and strips accents, but leaves `Kırgızistan`
(dotless ı), `Straße`, full-width `ＮＹＳＥ` and the ligature in `ﬁnance` as words of their own,
and reads a run of Chinese or Japanese characters as one token, so `峰会` never matches
`第二届中国—中亚峰会在阿斯塔纳举行`. fold() fixes both, character by character:

- NFKC per character (`ＮＹＳＥ` → `NYSE`, `ﬁ` → `fi`, `₂` → `2`), kept only where a letter or digit
  maps to letters and digits: NFKC also turns `™` into `TM` (`Acme™` would become the word
  `acmetm`) and `½` into `1⁄2` (two words), which would move word boundaries.
- `ı` → `i`, `ß`/`ẞ` → `ss` (`İ` already folds to `i` in unicode61).
- Each CJK ideograph or kana gets a zero-width space on both sides, a separator to unicode61:
  every such character is a token of its own, and a query word made of them is a phrase of
  characters, which matches exactly where the characters stand in a row (a substring).

Why per character, and why these rules: the archive index, the in-memory batch matcher and the
query must fold identically, and the snippets must show the original text. Mapping one character
at a time means fold(a + " " + b) == fold(a) + " " + fold(b), so the batch can fold each
whitespace-separated chunk on its own (its memo is keyed by chunk), and fold() never creates or
removes whitespace. Because no rule here moves a word boundary except the CJK split, the original
text with only the CJK split applied (split_cjk()) has exactly the tokens of the folded text at
the same positions: that is what the archive's snippet() reads (see the archive schema), and
what the batch's snippets render, so highlights land on the original words.

Changing fold() changes what the archive index holds: add a migration that calls
monitor/store/schema.reindex(), so every archive is re-indexed once on its next start.
"""

from __future__ import annotations

import re
import unicodedata

ZWSP = "\u200b"  # zero-width space: a separator to unicode61, not whitespace to str.split()

_SPECIAL = {"ı": "i", "ß": "ss", "ẞ": "ss"}


def is_cjk(c: str) -> bool:
    """True for a Han ideograph, hiragana or katakana (scripts written without spaces)."""
    o = ord(c)
    return (
        0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0x31F0 <= o <= 0x31FF  # katakana phonetic extensions
        or 0x3400 <= o <= 0x4DBF  # CJK extension A
        or 0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= o <= 0xFAFF  # CJK compatibility ideographs
        or 0xFF66 <= o <= 0xFF9D  # half-width katakana
        or 0x20000 <= o <= 0x3134F  # CJK extensions B-G
        or o in (0x3005, 0x3006)  # 々 〆
    )


def _is_token_char(c: str) -> bool:
    # unicode61's default token characters: categories L*, N* and Co; combining marks are
    # diacritics it strips (remove_diacritics 2), so they never split a word either.
    cat = unicodedata.category(c)
    return cat[0] in "LNM" or cat == "Co"


class _Table(dict[int, str]):
    """str.translate() table computed on demand, one entry per character ever seen."""

    def __missing__(self, o: int) -> str:
        c = chr(o)
        out = _fold_char(c)
        self[o] = out
        return out


def _fold_char(c: str) -> str:
    if c in _SPECIAL:
        return _SPECIAL[c]
    if is_cjk(c):
        return ZWSP + c + ZWSP
    m = unicodedata.normalize("NFKC", c)
    if m != c and _is_token_char(c) and all(_is_token_char(x) for x in m):
        return "".join(ZWSP + x + ZWSP if is_cjk(x) else _SPECIAL.get(x, x) for x in m)
    return c


class _CjkTable(dict[int, str]):
    def __missing__(self, o: int) -> str:
        c = chr(o)
        out = ZWSP + c + ZWSP if is_cjk(c) else c
        self[o] = out
        return out


_TABLE = _Table()
_CJK = _CjkTable()
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(_TABLE)


def _split_run(m: re.Match[str]) -> str:
    return m.group().translate(_CJK)


def fold(text: str) -> str:
    """Return `text` as the FTS5 tokenizer should see it (see the module docstring)."""
    if text.isascii():
        return text  # the common case: nothing here changes ASCII
    return _NON_ASCII.sub(_fold_run, text)  # only the non-ASCII runs go through the table


def split_cjk(text: str) -> str:
    """Return `text` with only the CJK split of fold(): same tokens at the same positions, original words."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(_split_run, text)


def unsplit(text: str) -> str:
    """Remove the zero-width spaces fold()/split_cjk() put in (for text shown to people)."""
    return text.replace(ZWSP, "") if ZWSP in text else text
