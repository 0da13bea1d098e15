"""Item records as the text checkers see them (docs/interface.md, Data items), from dicts, rows or ReasonRequests."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from abkit.errors import AbkitError


@dataclass(frozen=True)
class ItemFacts:
    """One catalog item: the columns of docs/interface.md, Data, attributes parsed into a dict."""

    item_id: str
    category: str = ""
    brand: str = ""
    title: str = ""
    price: float | None = None
    discount: float = 0.0
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def effective_price(self) -> float | None:
        return None if self.price is None else self.price * (1.0 - self.discount)

    def own_strings(self) -> list[str]:
        """Brand, title (and its space-separated parts: "完美肌 王牌小白瓶" names the product 王牌小白瓶)
        and attribute values: the item's own facts (allowlisted for this item)."""
        parts = [p for p in self.title.split() if len(p) >= 2] if " " in self.title.strip() else []
        return [s for s in (self.brand, self.title, *parts, *self.attributes.values()) if s]


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def parse_attributes(raw: Any) -> dict[str, str]:
    """The `attributes` JSON object (string, dict or None) as name -> string value."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return {}
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise AbkitError(f"item attributes are not a JSON object: {raw[:60]!r}") from None
    if not isinstance(raw, dict):
        raise AbkitError(f"item attributes must be a JSON object, got {type(raw).__name__}")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = "、".join(str(v) for v in value)
        out[str(key)] = str(value)
    return out


def as_item(item: Any) -> ItemFacts:
    """Coerce a dict / pandas row / ReasonRequest / ItemFacts into ItemFacts."""
    if isinstance(item, ItemFacts):
        return item
    get = item.get if isinstance(item, dict) else (lambda k, d=None: getattr(item, k, d))
    discount = _num(get("discount", 0.0)) or 0.0

    def text(key: str) -> str:
        value = get(key, "")
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)

    return ItemFacts(
        item_id=text("item_id"),
        category=text("category"),
        brand=text("brand"),
        title=text("title"),
        price=_num(get("price")),
        discount=min(max(discount, 0.0), 1.0),
        attributes=parse_attributes(get("attributes")),
    )


def items_by_id(items: Any) -> dict[str, ItemFacts]:
    """A DataFrame / list of dicts of items -> {item_id: ItemFacts} (None -> empty)."""
    if items is None:
        return {}
    if isinstance(items, dict):
        return {str(k): as_item(v) for k, v in items.items()}
    if hasattr(items, "columns"):  # DataFrame: column lists are much faster than row dicts
        cols = [c for c in ("item_id", "category", "brand", "title", "price", "discount", "attributes")
                if c in items.columns]
        data = {c: items[c].tolist() for c in cols}
        records = [dict(zip(cols, vals, strict=True)) for vals in zip(*data.values(), strict=True)]
    else:
        records = list(items)
    out = {}
    for rec in records:
        fact = as_item(rec)
        out[fact.item_id] = fact
    return out
