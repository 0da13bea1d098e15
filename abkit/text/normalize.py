"""Text normalization shared by every text check: NFKC, case folding, no whitespace or zero-width chars.

Full-width forms (ＮＯ．１ → no.1, ￥ → ¥, ，→ ,), spaced-out terms (最 佳 → 最佳) and invisible
characters (最\u200b佳) all collapse to one canonical string before matching. Offsets reported by
the checkers refer to the normalized string.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

_WS = re.compile(r"\s+")
_ZW = re.compile(r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")
# Whitespace plus zero-width / bidi / format characters that render as nothing.
_INVISIBLE = re.compile(r"[\s\u00ad\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]+")


def normalize(text: str, *, casefold: bool = True, keep_spaces: bool = False) -> str:
    """NFKC, then case-fold (unless ``casefold=False``), then drop whitespace and zero-width chars.

    ``keep_spaces=True`` collapses whitespace runs to one space instead (the faithfulness checker
    keeps "128G 5G" as two tokens); zero-width characters are dropped either way.
    """
    out = unicodedata.normalize("NFKC", text)
    if casefold:
        out = out.casefold()
    if keep_spaces:
        return _WS.sub(" ", _ZW.sub("", out)).strip()
    return _INVISIBLE.sub("", out)


def normalize_both(text: str) -> tuple[str, str]:
    """(normalize(text, casefold=False, keep_spaces=True), normalize(text)) with one NFKC pass."""
    cased = _WS.sub(" ", _ZW.sub("", unicodedata.normalize("NFKC", text))).strip()
    return cased, cased.casefold().replace(" ", "")


def strip_whitespace(text: str) -> str:
    """Whitespace removal only (the tokenization base of the diversity metrics, docs/interface.md, Analysis JSON)."""
    return _WS.sub("", text)



def normalize_both_many(texts: list[str]) -> list[tuple[str, str]]:
    """normalize_both of every text, from one NFKC pass over all of them joined by NUL.

    NUL is a starter that composes with nothing, so NFKC of the joined string is the join of the
    per-text results; a batch in which some text holds NUL itself goes text by text.
    """
    if not texts:
        return []
    joined = "\0".join(texts)
    nf = _nfkc_mostly_ascii_cjk(joined)
    if joined.count("\0") != len(texts) - 1 or nf.count("\0") != len(texts) - 1:
        return [normalize_both(t) for t in texts]
    cased = [c.strip() for c in _WS.sub(" ", _ZW.sub("", nf)).split("\0")]
    folded = "\0".join(cased).casefold().replace(" ", "").split("\0")
    return list(zip(cased, folded, strict=True))


def _nfkc_mostly_ascii_cjk(text: str) -> str:
    """unicodedata.normalize("NFKC", text), fast when few distinct characters change.

    Each distinct character that is not NFKC on its own (，→ ,) is first replaced by its NFKD form;
    NFKC starts by fully decomposing, so that leaves the result unchanged, and when the string is
    then already normalized (the usual case) the full pass is skipped.
    """
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    other = codes[(codes > 0x7F) & ((codes < 0x4E00) | (codes > 0x9FFF))]  # outside ASCII and CJK ideographs
    for code in np.unique(other).tolist():
        ch = chr(code)
        if not unicodedata.is_normalized("NFKC", ch):
            text = text.replace(ch, unicodedata.normalize("NFKD", ch))
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
