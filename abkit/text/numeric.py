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

import numpy as np

NUM = r"[0-9]+(?:\.[0-9]+)?"
B = r"(?<![0-9A-Za-z.])"  # a number starts at a boundary (not inside iPhone15 or 1.5)
CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
             "半": 0.5}
_CN_SHELF = {"半年": 6.0, "一年": 12.0, "一年半": 18.0, "两年": 24.0, "二年": 24.0, "三年": 36.0}
_PRICE_WORDS = "到手价|券后价|券后|仅需|只需|只要|仅售|售价|现价|特价|到手|低至|原价|标价|日常价|定价|吊牌价"
# classifier -> count kind suffix (支装 and 支 count the same thing)
COUNT_UNITS = {"支装": "支", "支": "支", "本装": "本", "本": "本", "抽": "抽", "色": "色", "片装": "片", "片": "片",
               "粒": "粒", "人": "人", "层": "层"}

# Claims about the item's promotion (满减, 直降, 折, 券, 第二件半价, 买一送一, 满X包邮); claiming one the item
# lacks is a contradiction (docs/interface.md, Analysis JSON).
DISCOUNT_KINDS = frozenset({"zhe", "manjian", "zhijiang", "coupon", "second_half", "bogo", "free_ship_over"})
PRICE_KIND = "price"

# (group name, kind, pattern with {a}/{b} placeholders for the value groups); order = priority
_PATTERNS: list[tuple[str, str, str]] = [
    ("manjian", "manjian", r"满(?P<{a}>[0-9]+)元?减(?P<{b}>[0-9]+)元?"),
    ("freeship", "free_ship_over", r"满(?P<{a}>[0-9]+)元?包邮"),
    ("pct_off", "zhe", r"(?:立减|直降|减|省|优惠)(?P<{a}>[0-9]{1,2})%"),
    ("pct_off2", "zhe", B + r"(?P<{a}>[0-9]{1,2})% ?(?:off|OFF|Off)"),
    ("zhijiang", "zhijiang", r"(?:直降|立减|立省|降价|降|省)(?P<{a}>" + NUM + r")元"),
    ("coupon", "coupon", B + r"(?P<{a}>[0-9]+)元(?:优惠)?券"),
    ("second", "second_half", r"第二件(?P<{a}>半价)"),
    ("bogo", "bogo", r"买(?P<{a}>一|1)送(?:一|1)"),
    ("half", "zhe", r"(?<!第二件)(?P<{a}>半)价"),
    ("zhe", "zhe", r"(?<![0-9.])(?P<{a}>[0-9](?:\.[0-9])?)折(?!叠)"),
    ("zhecn", "zhe", r"(?P<{a}>[一二三四五六七八九])(?P<{b}>[一二三四五六七八九])?折(?!叠)"),
    ("price1", "price", r"[¥](?P<{a}>" + NUM + ")"),
    ("price2", "price", r"(?:" + _PRICE_WORDS + r")(?:仅|只要|才)?[¥]?(?P<{a}>" + NUM + r")(?:元|块)?"),
    ("price3", "price", B + r"(?P<{a}>" + NUM + r")(?:元(?!券|优惠券|红包|礼)|块钱|块(?=$|[,，。!！ ]|就|到手|入手|拿下|带走))"),
    ("batt_h1", "battery_h", r"续航(?:长达|约|高达)?(?P<{a}>" + NUM + r")(?:个)?小时"),
    ("batt_h2", "battery_h", B + r"(?P<{a}>" + NUM + r")小时(?:超长)?续航"),
    ("batt_d", "battery_d", r"续航(?:长达|约|高达)?(?P<{a}>" + NUM + r")天"),
    ("keep_h", "keep_h", r"(?:锁温|保温|保冷)(?P<{a}>" + NUM + r")(?:个)?小时"),
    ("ship_h", "ship_h", B + r"(?P<{a}>[0-9]+)小时(?:内)?发货"),
    ("shelf", "shelf_life_m", r"保质期(?:长达|约|为|是|有|仅|:)?(?P<{a}>[0-9]+)(?P<{b}>个月|月|天|年)"),
    ("shelf_cn", "shelf_life_m", r"保质期(?:长达|约|为|是|有|仅|:)?(?P<{a}>一年半|半年|[一两二三]年)"),
    ("shelf2", "shelf_life_m", B + r"(?P<{a}>[0-9]+)(?P<{b}>个月|月|天|年)的?保质期"),
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
    ("mass_cn", "g", r"(?<![0-9一二两三四五六七八九十])(?P<{a}>[半一两二三四五六七八九十])(?P<{b}>斤|公斤|千克)"),
    ("power", "watt", B + r"(?P<{a}>" + NUM + r")W(?![A-Za-z])"),
    ("inch", "inch", B + r"(?P<{a}>" + NUM + r") ?(?:英寸|寸)"),
    ("mm", "mm", B + r"(?P<{a}>" + NUM + r") ?(?P<{b}>mm|毫米|cm|厘米)(?![A-Za-z])"),
    ("pages", "pages", B + r"(?P<{a}>[0-9]+)页"),
    ("keys", "keys", B + r"(?P<{a}>[0-9]+)键"),
    ("size", "size", r"(?<![A-Za-z0-9])(?P<{a}>(?i:NB|XXXL|XXL|XL|XS|S|M|L|[2-5]XL))(?:码|号)"),
    ("count", "count", B + r"(?:(?P<{b}>[0-9]+)-)?(?P<{a}>[0-9]+)(?P<{c}>支装|支|本装|本|抽|色|片装|片|粒|人|层)(?![A-Za-z0-9])"),
]

KIND_OF = {name: kind for name, kind, _ in _PATTERNS}
# First characters of every pattern: a leading lookahead on them lets the engine skip most
# positions without trying all alternatives (10x faster on typical reasons).
_ANCHORS = "0-9¥满直立降省第买半一二两三四五六七八九十到券仅只售现特低续锁保IiSs蓝月好原标日定吊减优NXMLnxml"


def _alternative(name: str, pat: str) -> str:
    return pat.replace("{a}", name + "_a").replace("{b}", name + "_b").replace("{c}", name + "_c")


# The alternatives are not wrapped in a group of their own: an alternative that starts with a
# literal (满, 续, 保 ...) is then rejected by the engine at a glance. The match's last group
# (every alternative has a mandatory _a group) names the alternative that matched.
CLAIM_RE = re.compile(f"(?=[{_ANCHORS}])(?:" + "|".join(_alternative(n, p) for n, _, p in _PATTERNS) + ")")
_ALTERNATIVE_OF = {g: name for name, _, _ in _PATTERNS for g in (name + "_a", name + "_b", name + "_c")}
_SCALE = {"ml": 1.0, "毫升": 1.0, "l": 1000.0, "升": 1000.0, "g": 1.0, "克": 1.0, "kg": 1000.0, "千克": 1000.0,
          "公斤": 1000.0, "斤": 500.0, "gb": 1.0, "tb": 1024.0, "mm": 1.0, "毫米": 1.0, "cm": 10.0,
          "厘米": 10.0}
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
    if name in ("pct_off", "pct_off2"):
        return round(10.0 - float(a) / 10.0, 2)
    if name == "mass_cn":
        return CN_DIGITS[a] * _SCALE[m.group(name + "_b")]
    if name == "shelf_cn":
        return _CN_SHELF[a]
    if name == "shelf2":
        return round(float(a) * _SHELF[m.group(name + "_b")], 3)
    if name == "count":
        lo = m.group(name + "_b")
        return (float(lo) if lo else float(a), float(a))
    if name == "zhecn":
        b = m.group(name + "_b")
        return CN_DIGITS[a] + (CN_DIGITS[b] / 10 if b else 0.0)
    if kind == "size":
        return a.upper()
    if kind == "ip":
        return "IP" + a.upper()
    if name == "shelf":
        return round(float(a) * _SHELF[m.group(name + "_b")], 3)
    if name == "sales":
        return float(a) * (10000.0 if m.group(name + "_b") else 1.0)
    if name in ("storage", "volume", "mass", "mm"):
        unit = m.group(name + "_b")
        return float(a) * _SCALE.get(unit.lower(), _SCALE.get(unit, 1.0))
    return float(a)


def _claim(m: re.Match[str], offset: int = 0) -> NumClaim | None:
    name = _ALTERNATIVE_OF[m.lastgroup]  # type: ignore[index]
    value = _value(name, m)
    if name == "storage" and value < 16:  # 5G is a network, not storage
        return None
    kind = KIND_OF[name] if name != "count" else "count_" + COUNT_UNITS[m.group("count_c")]
    return NumClaim(kind, value, m.start() - offset, m.end() - offset, m.group(0))


def extract_numeric(cased: str) -> list[NumClaim]:
    """Numeric claims in a case-preserving normalized string."""
    if not cased:
        return []
    return [c for c in map(_claim, CLAIM_RE.finditer(cased)) if c is not None]


# The same pattern with ``$`` matching before each newline: one scan over texts joined by "\n".
# No pattern matches a newline or looks behind / ahead for one, so each text's claims are its own.
_CLAIM_RE_LINES = re.compile(CLAIM_RE.pattern, re.MULTILINE)


def extract_numeric_many(cased: list[str]) -> list[list[NumClaim]]:
    """``extract_numeric`` of each string (normalized, so without newlines), from one regex scan."""
    out: list[list[NumClaim]] = [[] for _ in cased]
    if any("\n" in c for c in cased):
        return [extract_numeric(c) for c in cased]
    starts = np.cumsum([0] + [len(c) + 1 for c in cased[:-1]]) if cased else np.zeros(0, np.int64)
    matches = list(_CLAIM_RE_LINES.finditer("\n".join(cased)))
    if not matches:
        return out
    owner = np.searchsorted(starts, np.fromiter((m.start() for m in matches), np.int64, len(matches)), side="right") - 1
    for m, k in zip(matches, owner.tolist(), strict=True):
        claim = _claim(m, int(starts[k]))
        if claim is not None:
            out[k].append(claim)
    return out
