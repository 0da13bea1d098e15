"""Text normalization shared by every text check: NFKC, case folding, no whitespace or zero-width chars.

Full-width forms (ＮＯ．１ → no.1, ￥ → ¥, ，→ ,), spaced-out terms (最 佳 → 最佳) and invisible
characters (最\u200b佳) all collapse to one canonical string before matching. Offsets reported by
the checkers refer to the normalized string.
"""

from __future__ import annotations

import re
import unicodedata

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


