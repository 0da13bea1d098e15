"""A synthetic catalog (docs/interface.md, Data `items`), deterministic from a seed, built column by column.

Columns: item_id ("i000123"), category, subcategory, brand (invented, 2 characters), title,
price (list price, log-uniform in the category band, rounded 9.9 / 79 / 399 style), discount
(fraction off), attributes (JSON object attribute -> verbatim value, incl. 评分 / 月销 / 发货 /
售后 and 促销 when the item has a promotion), popularity (a heavy-tailed weight for the
simulator's item choice; an extra column).

Every random draw is a numpy array over items, so 1M items take a few seconds; the only
per-item Python work is joining pre-rendered JSON fragments.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from abkit.world import vocab

CATEGORY_SHARE: dict[str, float] = {
    "服饰": 0.22, "美妆": 0.14, "数码": 0.12, "食品": 0.14, "家居": 0.12, "母婴": 0.08, "运动": 0.10, "图书": 0.08,
}
DISCOUNT_P: dict[float, float] = {0.0: 0.6, 0.1: 0.15, 0.2: 0.15, 0.3: 0.10}
OTHER_PROMO_RATE = 0.35  # items without a discount that still run a promotion (满减, 包邮, ...)
SALES_P = [0.22, 0.24, 0.2, 0.14, 0.1, 0.06, 0.04]  # 月销 levels, low to high
TITLE_SUFFIX = ["", "新款", "2026新款", "官方旗舰", "热卖款", "经典款", "升级款"]


def _round_price(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round to shop-style prices: 12.9 below 30, 79 / 78.9 below 300, 399 / 1299 above."""
    low = np.floor(p) + 0.9
    mid_base = 10.0 * np.maximum(np.round(p / 10.0), 1.0)
    mid = mid_base - np.where(rng.random(p.shape) < 0.5, 1.0, 0.1)
    high = 100.0 * np.maximum(np.round(p / 100.0), 1.0) - 1.0
    out = np.where(p < 30, low, np.where(p < 300, mid, high))
    return np.round(out, 1)


def _attribute_order() -> list[str]:
    order: list[str] = []
    for cat in vocab.CATEGORIES:
        for sub in vocab.CATEGORIES[cat]["subcategories"]:
            for attr in vocab.subcategory_attributes(cat, sub):
                if attr not in order:
                    order.append(attr)
    return order + list(vocab.SHARED_ATTRIBUTES) + [vocab.PROMO_ATTRIBUTE]


def _fragment(attr: str, value: str) -> str:
    return json.dumps(attr, ensure_ascii=False) + ":" + json.dumps(value, ensure_ascii=False)


def make_catalog(n_items: int, seed: int = 0) -> pd.DataFrame:
    """n_items items; the same (n_items, seed) always gives the same frame."""
    if n_items < 1:
        raise ValueError("n_items must be at least 1")
    rng = np.random.default_rng(seed)
    n = int(n_items)
    cats = list(vocab.CATEGORIES)
    cat_p = np.array([CATEGORY_SHARE[c] for c in cats])
    cat_idx = rng.choice(len(cats), size=n, p=cat_p / cat_p.sum())
    category = np.array(cats, dtype=object)[cat_idx]

    # Sub-category: uniform within the category.
    sub_u = rng.random(n)
    subcategory = np.empty(n, dtype=object)
    for ci, cat in enumerate(cats):
        mask = cat_idx == ci
        subs = np.array(vocab.CATEGORIES[cat]["subcategories"], dtype=object)
        subcategory[mask] = subs[(sub_u[mask] * len(subs)).astype(np.int64)]

    s1 = np.array(vocab.BRAND_SYLLABLES_1, dtype=object)
    s2 = np.array(vocab.BRAND_SYLLABLES_2, dtype=object)
    brand = s1[rng.integers(len(s1), size=n)] + s2[rng.integers(len(s2), size=n)]

    lo = np.array([vocab.CATEGORIES[c]["price_band"][0] for c in cats])[cat_idx]
    hi = np.array([vocab.CATEGORIES[c]["price_band"][1] for c in cats])[cat_idx]
    raw = np.exp(np.log(lo) + rng.random(n) * (np.log(hi) - np.log(lo)))
    price = np.maximum(_round_price(raw, rng), np.round(lo, 1))

    d_values = np.array(list(DISCOUNT_P))
    d_p = np.array(list(DISCOUNT_P.values()))
    discount = d_values[rng.choice(len(d_values), size=n, p=d_p)]

    # Attributes: one fragment column per attribute name ("" = absent), filled per sub-category group.
    order = _attribute_order()
    frags = {a: np.full(n, "", dtype=object) for a in order}
    values = {a: np.full(n, "", dtype=object) for a in order}
    for ci, cat in enumerate(cats):
        in_cat = cat_idx == ci
        for sub in vocab.CATEGORIES[cat]["subcategories"]:
            idx = np.flatnonzero(in_cat & (subcategory == sub))
            if idx.size == 0:
                continue
            for attr, vals in vocab.subcategory_attributes(cat, sub).items():
                choice = rng.integers(len(vals), size=idx.size)
                keep = rng.random(idx.size) < vocab.OPTIONAL_ATTRIBUTE_RATE.get(attr, 1.0)
                v = np.array(vals, dtype=object)
                f = np.array([_fragment(attr, x) for x in vals], dtype=object)
                values[attr][idx[keep]] = v[choice[keep]]
                frags[attr][idx[keep]] = f[choice[keep]]
    for attr, vals in vocab.SHARED_ATTRIBUTES.items():
        p = np.array(SALES_P) if attr == "月销" else None
        choice = rng.choice(len(vals), size=n, p=p)
        keep = rng.random(n) < vocab.OPTIONAL_ATTRIBUTE_RATE.get(attr, 1.0)
        v = np.array(vals, dtype=object)
        f = np.array([_fragment(attr, x) for x in vals], dtype=object)
        values[attr][keep] = v[choice[keep]]
        frags[attr][keep] = f[choice[keep]]

    # Promotions: a discount is a promotion (8折); otherwise some items run another one.
    other = [p for p in vocab.render_promos() if not p.endswith("折")]
    other_pick = np.array(other, dtype=object)[rng.integers(len(other), size=n)]
    has_other = (discount == 0) & (rng.random(n) < OTHER_PROMO_RATE)
    disc_text = np.array([vocab.discount_text(d) for d in d_values], dtype=object)[
        np.searchsorted(d_values, discount)]
    promo = np.where(discount > 0, disc_text, np.where(has_other, other_pick, ""))
    uniq = {p: _fragment(vocab.PROMO_ATTRIBUTE, p) for p in set(promo.tolist()) if p}
    frags[vocab.PROMO_ATTRIBUTE] = np.array([uniq.get(p, "") for p in promo], dtype=object)

    cols = [frags[a] for a in order]
    attributes = ["{" + ",".join(x for x in row if x) + "}" for row in zip(*cols, strict=True)]

    # Title: brand + two descriptive values + sub-category + a suffix, all in Chinese.
    def first_present(names: list[str]) -> np.ndarray:
        out = np.full(n, "", dtype=object)
        for name in reversed(names):
            v = values[name]
            out = np.where(v != "", v, out)
        return out

    desc1 = first_present(["风格", "功效", "产地", "材质", "读者"])
    desc2 = first_present(["卖点", "口味", "成分", "规格", "装帧"])
    suffix = np.array(TITLE_SUFFIX, dtype=object)[rng.integers(len(TITLE_SUFFIX), size=n)]
    title = brand + " " + desc1 + desc2 + subcategory + suffix

    width = max(6, len(str(n - 1)))
    item_id = [f"i{i:0{width}d}" for i in range(n)]
    popularity = rng.lognormal(mean=0.0, sigma=1.2, size=n)
    return pd.DataFrame({
        "item_id": item_id,
        "category": category.astype(str),
        "subcategory": subcategory.astype(str),
        "brand": brand.astype(str),
        "title": title.astype(str),
        "price": price.astype(np.float64),
        "discount": discount.astype(np.float64),
        "attributes": attributes,
        "popularity": popularity,
    })


def write_catalog(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the catalog to Parquet (ids and JSON stay strings)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return path
