"""Numeric claims in reason texts: price, discounts (X折, 满X减Y, 直降X元, 券), specs with units.

One combined regex (built once) runs over the case-preserving normalized text with spaces
kept as separators (``normalize(text, casefold=False, keep_spaces=True)``: 128G is storage,
500g is grams, and "128G 5G" stays two tokens). Each hit becomes a
``NumClaim(kind, value, start, end)`` with the value in a canonical unit (ml, g, hours, ...),
so "1L" and "1000ml" compare equal. Model names such as iPhone15 carry no unit and yield nothing.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

NUM = r"[0-9]+(?:\.[0-9]+)?"
B = r"(?<![0-9A-Za-z.])"  # a number starts at a boundary (not inside iPhone15 or 1.5)
CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

# Claims about the item's promotion (vocab.PROMOS, 满X包邮 included); claiming one the item
# lacks is a contradiction (docs/interface.md, Analysis JSON).
DISCOUNT_KINDS = frozenset({"zhe", "manjian", "zhijiang", "coupon", "second_half", "bogo", "free_ship_over"})
PRICE_KIND = "price"

# (group name, kind, pattern with {a}/{b} placeholders for the value groups); order = priority
_PATTERNS: list[tuple[str, str, str]] = [
    ("manjian", "manjian", r"满(?P<{a}>[0-9]+)元?减(?P<{b}>[0-9]+)元?"),
    ("freeship", "free_ship_over", r"满(?P<{a}>[0-9]+)元?包邮"),
    ("zhijiang", "zhijiang", r"(?:直降|立减|立省|降价|降|省)(?P<{a}>" + NUM + r")元"),
    ("coupon", "coupon", B + r"(?P<{a}>[0-9]+)元(?:优惠)?券"),
    ("second", "second_half", r"第二件(?P<{a}>半价)"),
    ("bogo", "bogo", r"买(?P<{a}>一|1)送(?:一|1)"),
    ("half", "zhe", r"(?<!第二件)(?P<{a}>半)价"),
    ("zhe", "zhe", r"(?<![0-9.])(?P<{a}>[0-9](?:\.[0-9])?)折(?!叠)"),
    ("zhecn", "zhe", r"(?P<{a}>[一二三四五六七八九])(?P<{b}>[一二三四五六七八九])?折(?!叠)"),
    ("price1", "price", r"[¥](?P<{a}>" + NUM + ")"),
    ("price2", "price", r"(?:到手价|券后价|券后|仅需|只要|仅售|售价|现价|特价|到手|低至)仅?[¥]?(?P<{a}>" + NUM + r")元?"),
    ("price3", "price", B + r"(?P<{a}>" + NUM + r")元(?:到手|入手|拿下)"),
    ("batt_h1", "battery_h", r"续航(?:长达|约|高达)?(?P<{a}>" + NUM + r")(?:个)?小时"),
    ("batt_h2", "battery_h", B + r"(?P<{a}>" + NUM + r")小时(?:超长)?续航"),
    ("batt_d", "battery_d", r"续航(?:长达|约|高达)?(?P<{a}>" + NUM + r")天"),
    ("keep_h", "keep_h", r"(?:锁温|保温|保冷)(?P<{a}>" + NUM + r")(?:个)?小时"),
    ("ship_h", "ship_h", B + r"(?P<{a}>[0-9]+)小时(?:内)?发货"),
    ("shelf", "shelf_life_m", r"保质期(?P<{a}>[0-9]+)(?P<{b}>个月|月|天|年)"),
    ("ip", "ip", r"(?<![A-Za-z])[Ii][Pp](?P<{a}>[Xx]?[0-9]{1,2})(?![0-9])"),
    ("spf", "spf", r"[Ss][Pp][Ff](?P<{a}>[0-9]+)"),
    ("bt", "bluetooth", r"蓝牙(?P<{a}>[0-9]\.[0-9])"),
    ("bed", "bed_m", B + r"(?P<{a}>[0-9]\.[0-9])(?:m|米)床"),
    ("rating", "rating", B + r"(?P<{a}>[0-9]\.[0-9])分"),
    ("goodrate", "good_rate", B + r"(?P<{a}>[0-9]{2,3})%好评"),
    ("goodrate2", "good_rate", r"好评率(?P<{a}>[0-9]{2,3})%"),
    ("sales", "sales", r"月销(?P<{a}>" + NUM + r")(?P<{b}>万)?"),
    ("mah", "mah", B + r"(?P<{a}>" + NUM + r") ?(?:mAh|mah|MAH|毫安时|毫安)"),
    ("storage", "storage_g", B + r"(?P<{a}>[0-9]+) ?(?P<{b}>GB|G|TB)(?![A-Za-z0-9])"),
    ("volume", "ml", B + r"(?P<{a}>" + NUM + r") ?(?P<{b}>ml|mL|ML|毫升|L|升)(?![A-Za-z])"),
    ("mass", "g", B + r"(?P<{a}>" + NUM + r") ?(?P<{b}>kg|KG|Kg|g|克|千克|公斤|斤)(?![A-Za-z])"),
    ("power", "watt", B + r"(?P<{a}>" + NUM + r")W(?![A-Za-z])"),
    ("inch", "inch", B + r"(?P<{a}>" + NUM + r") ?(?:英寸|寸)"),
    ("mm", "mm", B + r"(?P<{a}>" + NUM + r") ?(?:mm|毫米)"),
    ("pages", "pages", B + r"(?P<{a}>[0-9]+)页"),
    ("keys", "keys", B + r"(?P<{a}>[0-9]+)键"),
]

KIND_OF = {name: kind for name, kind, _ in _PATTERNS}
# First characters of every pattern: a leading lookahead on them lets the engine skip most
# positions without trying all alternatives (10x faster on typical reasons).
_ANCHORS = "0-9¥满直立降省第买半一二三四五六七八九到券仅只售现特低续锁保IiSs蓝月好"
CLAIM_RE = re.compile(f"(?=[{_ANCHORS}])(?:" + "|".join(
    f"(?P<{name}>{pat.replace('{a}', name + '_a').replace('{b}', name + '_b')})" for name, _, pat in _PATTERNS
) + ")")
_SCALE = {"ml": 1.0, "毫升": 1.0, "l": 1000.0, "升": 1000.0, "g": 1.0, "克": 1.0, "kg": 1000.0, "千克": 1000.0,
          "公斤": 1000.0, "斤": 500.0, "gb": 1.0, "tb": 1024.0}
_SHELF = {"个月": 1.0, "月": 1.0, "天": 1 / 30, "年": 12.0}


class NumClaim(NamedTuple):
    kind: str
    value: Any  # float, (a, b) for 满减, or a string (ip rating)
    start: int
    end: int
    surface: str


def _value(name: str, m: re.Match[str]) -> Any:
    a = m.group(name + "_a")
    kind = KIND_OF[name]
    if name == "manjian":
        return (float(a), float(m.group(name + "_b")))
    if name in ("second", "bogo"):
        return 1.0
    if name == "half":
        return 5.0
    if name == "zhecn":
        b = m.group(name + "_b")
        return CN_DIGITS[a] + (CN_DIGITS[b] / 10 if b else 0.0)
    if kind == "ip":
        return "IP" + a.upper()
    if name == "shelf":
        return round(float(a) * _SHELF[m.group(name + "_b")], 3)
    if name == "sales":
        return float(a) * (10000.0 if m.group(name + "_b") else 1.0)
    if name in ("storage", "volume", "mass"):
        unit = m.group(name + "_b")
        return float(a) * _SCALE.get(unit.lower(), _SCALE.get(unit, 1.0))
    return float(a)


def extract_numeric(cased: str) -> list[NumClaim]:
    """Numeric claims in a case-preserving normalized string."""
    out: list[NumClaim] = []
    if not cased:
        return out
    for m in CLAIM_RE.finditer(cased):
        name = m.lastgroup
        assert name is not None
        value = _value(name, m)
        if name == "storage" and value < 16:  # 5G is a network, not storage
            continue
        out.append(NumClaim(KIND_OF[name], value, m.start(), m.end(), m.group(0)))
    return out
