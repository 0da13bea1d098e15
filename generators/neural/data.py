"""From the world (catalog + reference corpus) to token sequences for the prefix LM.

This is the corpus I/O side of the neural generator (pandas, the reason grammar): it is kept
out of the tokenizer/model/decoder modules, which import only keras and numpy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from abkit.world import vocab
from generators.corpus import item_facts
from generators.neural.tokenizer import CharTokenizer


def subcategory_of(category: str, title: str) -> str:
    """The sub-category named in an item title (longest match), else the category itself."""
    subs = vocab.CATEGORIES.get(category, {}).get("subcategories", [])
    found = [s for s in subs if s in (title or "")]
    return max(found, key=len) if found else category


def attribute_order() -> list[str]:
    """Canonical attribute order: category attributes, shared ones, then 价格 and 促销."""
    order: list[str] = []
    for spec in vocab.CATEGORIES.values():
        for attrs in [spec["attributes"], *spec.get("sub_attributes", {}).values()]:
            order += [a for a in attrs if a not in order]
    order += [a for a in vocab.SHARED_ATTRIBUTES if a not in order]
    return order + [vocab.PRICE_ATTRIBUTE, vocab.PROMO_ATTRIBUTE]


def build_tokenizer(texts: list[str], items: pd.DataFrame) -> CharTokenizer:
    """Characters of the reference texts, every vocabulary value, brands, titles and digits."""
    chars: set[str] = set("".join(texts))
    for values in vocab.value_lexicon().values():
        chars.update("".join(values))
    chars.update("".join(items["brand"].astype(str)) + "".join(items["title"].astype(str)))
    chars.update("0123456789.¥%+-×" + "".join(vocab.BRAND_SYLLABLES_1 + vocab.BRAND_SYLLABLES_2))
    for spec in vocab.CATEGORIES.values():
        chars.update("".join(spec["subcategories"]))
    return CharTokenizer(sorted(chars), list(vocab.CATEGORIES), list(vocab.SEGMENTS), attribute_order())


def item_prompt_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """category / subcategory / brand / facts of one catalog row (dict-like)."""
    attrs = row["attributes"]
    attrs = json.loads(attrs) if isinstance(attrs, str) else dict(attrs or {})
    sub = row.get("subcategory") or subcategory_of(row["category"], row.get("title", ""))
    return {"category": row["category"], "subcategory": str(sub), "brand": str(row["brand"]),
            "facts": item_facts(float(row["price"]), float(row.get("discount") or 0.0), attrs)}


def delexicalize(tok: CharTokenizer, text: str, mentions: list[list[str]], subcategory: str, brand: str) -> list[int]:
    """Token ids of a reason with each gold-mentioned value (and the brand / sub-category)
    replaced by its slot token; the rest character by character."""
    spans: list[tuple[int, int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e, _ in spans)

    def place(value: str, token: int, every: bool) -> None:
        if not value:
            return
        pos = text.find(value)
        while pos >= 0:
            if free(pos, pos + len(value)):
                spans.append((pos, pos + len(value), token))
                if not every:
                    return
            pos = text.find(value, pos + 1)

    for attr, value in sorted(mentions, key=lambda m: -len(m[1])):  # longest first: 满799减100 before 79
        if f"<v:{attr}>" in tok.index:
            place(str(value), tok.slot_id(attr), every=False)
    place(brand, tok.index["<brand>"], every=True)
    place(subcategory, tok.index["<sub>"], every=True)
    ids: list[int] = []
    at = 0
    for start, end, token in sorted(spans):
        ids += tok.encode_text(text[at:start]) + [token]
        at = end
    return ids + tok.encode_text(text[at:])


@dataclass
class Sequences:
    """Token sequences (prompt + reason + <eos>) and where each reason starts."""

    tokens: list[np.ndarray]
    prompt_len: np.ndarray  # [N]
    rows: pd.DataFrame  # the corpus rows, aligned


def encode_corpus(tok: CharTokenizer, corpus: pd.DataFrame, items: pd.DataFrame) -> Sequences:
    """Encode every corpus row with its item's prompt (prompts are built once per item)."""
    by_item = {str(r["item_id"]): item_prompt_fields(r) for r in items.to_dict("records")}
    prompts: dict[tuple, list[int]] = {}
    seqs, plens = [], []
    for item_id, seg, length, text, mentions in zip(corpus["item_id"].astype(str), corpus["segment"],
                                                    corpus["length"], corpus["text"], corpus["mentions"], strict=True):
        seg = None if seg is None or (isinstance(seg, float) and seg != seg) else seg
        key = (item_id, seg, length)
        if key not in prompts:
            prompts[key] = tok.encode_prompt(**by_item[item_id], segment=seg, length=length)
        p = prompts[key]
        fields = by_item[item_id]
        target = delexicalize(tok, text, json.loads(mentions), fields["subcategory"], fields["brand"])
        seqs.append(np.asarray(p + target + [tok.eos_id], np.int32))
        plens.append(len(p))
    return Sequences(seqs, np.asarray(plens, np.int32), corpus.reset_index(drop=True))


def split_items(items: pd.DataFrame, heldout_share: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out items (a seeded random share)."""
    rng = np.random.default_rng(seed + 7919)
    return rng.random(len(items)) < heldout_share
