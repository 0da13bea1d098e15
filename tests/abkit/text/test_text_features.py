"""Text features for the CTR-by-feature table."""

from __future__ import annotations

import pandas as pd

from abkit.text.features import text_features
from abkit.world.textlex import segment_top_aspect


def test_features(items):
    pairs = pd.DataFrame({
        "item_id": ["pb1", "pb1", "tee", "tee", "ghost"],
        "text": ["10000mAh大容量，轻薄好带", "最好的充电宝，限时8折", "纯棉夏天穿很舒服", "满199减30，到手价超香", "随便"],
        "segment": ["科技发烧友", "宝妈", "宝妈", "价格敏感", None],
    })
    f = text_features(pairs, pd.DataFrame(items), segment_aspect=segment_top_aspect).set_index("text")
    assert list(f["priority_aspect"].fillna("-")) == ["规格", "卖点", "材质", "价格", "-"]
    # 科技发烧友: 规格 10000mAh said; 宝妈: 卖点 轻薄 not said; 宝妈: 材质 100%纯棉 ⊃ 纯棉; 价格敏感: 到手价
    assert str(f["mentions_priority_aspect"].dtype) == "boolean"
    assert f["mentions_priority_aspect"].tolist()[:4] == [True, False, True, True]
    assert pd.isna(f.loc["随便", "mentions_priority_aspect"])
    assert list(f["mentions_promo"]) == [False, True, False, True, False]
    assert f["unfaithful"].tolist()[:4] == [False, True, False, False] and pd.isna(f.loc["随便", "unfaithful"])
    assert list(f["ad_law_violation"]) == [False, True, False, False, False]
    assert list(f["length_bucket"]) == ["S", "S", "S", "S", "other"]


def test_segments_argument(items):
    pairs = pd.DataFrame({"item_id": ["pb1"], "text": ["轻薄"]})
    f = text_features(pairs, pd.DataFrame(items), segments=["银发族"], segment_aspect=segment_top_aspect)
    assert f.loc[0, "segment"] == "银发族" and f.loc[0, "priority_aspect"] == "卖点"
    assert bool(f.loc[0, "mentions_priority_aspect"]) is True


# --- the table-wide computation against a per-row reference ------------------------------------

import re  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from abkit.text.faithfulness import FaithfulnessChecker  # noqa: E402
from abkit.text.features import feature_columns  # noqa: E402
from abkit.text.items import items_by_id  # noqa: E402
from abkit.text.lengths import length_bucket  # noqa: E402
from abkit.text.lexicon import PRICE_ATTRIBUTE, PROMO_ATTRIBUTE  # noqa: E402
from abkit.text.normalize import normalize, strip_whitespace  # noqa: E402
from abkit.text.numeric import DISCOUNT_KINDS, PRICE_KIND  # noqa: E402
from abkit.text.scoring import score_pairs  # noqa: E402
from abkit.world.vocab import PERSONAS  # noqa: E402

_PRICE_WORDS = re.compile(r"价|便宜|省钱|划算|实惠|平价")


def _reference(rows: pd.DataFrame, catalog, rule) -> pd.DataFrame:
    """The definition, one row at a time (each pair scored on its own, the rule asked for every row)."""
    out = []
    checker = FaithfulnessChecker(catalog.values())
    for item_id, text, segment in rows[["item_id", "text", "segment"]].itertuples(index=False):
        item = catalog.get(item_id)
        s = score_pairs([text], [item_id], catalog, faithfulness=checker, keep_supported=True)
        supported = (s.supported_claims or {}).get(0, [])
        claims = [*supported, *s.contradicted.get(0, []), *s.unsupported_claims.get(0, [])]
        kinds = {c.kind for c in claims}
        promo = bool(s.mentions_promo[0])
        aspect = rule(segment, [*item.attributes, PRICE_ATTRIBUTE]) if (
            item is not None and isinstance(segment, str)) else None
        norm = normalize(text)
        if aspect is None:
            hit = None
        elif aspect == PRICE_ATTRIBUTE:
            hit = PRICE_KIND in kinds or bool(_PRICE_WORDS.search(norm))
        elif aspect == PROMO_ATTRIBUTE:
            hit = promo or bool(kinds & DISCOUNT_KINDS)
        else:
            value = item.attributes.get(aspect)
            hit = aspect in {c.attribute for c in supported if c.attribute} or bool(value and normalize(value) in norm)
        n = len(strip_whitespace(text))
        unf = s.unfaithful[0]
        out.append({"mentions_promo": promo, "priority_aspect": aspect, "mentions_priority_aspect": hit,
                    "length": n, "length_bucket": length_bucket(n) or "other",
                    "unfaithful": None if np.isnan(unf) else bool(unf), "ad_law_violation": bool(s.violation[0])})
    return pd.DataFrame(out)


ODD_TEXTS = [
    "", "   ", "\n", "纯棉", "100%纯棉T恤，夏天穿", "ＮＯ．１充电宝 10000ＭＡＨ", "轻\u200b薄 好带", "价格实惠", "¥99到手",
    "到手价99元", "满199减30，限时8折", "领券立减20元", "第二件半价", "包邮", "最好的咖啡，国家级品质", "云南 产地 浓郁",
    "SPF50+ 50ml 清爽不油腻", "6.1英寸 防摔手机壳 iPhone15", "白色 夏季 100%纯棉", "便宜又划算" * 3, "x" * 8,
    "一" * 16, "一" * 17, "一" * 32, "一" * 33, "一" * 60, "一" * 61, "😀好物推荐😀", "A\tB\u3000C", "5折清仓（原价199）",
]


def _catalog(items: list[dict]) -> dict:
    extra = [
        {"item_id": "bare", "category": "食品", "brand": "", "title": "无属性零食", "price": None, "attributes": {}},
        {"item_id": "blank", "category": "服饰", "brand": "禾森", "title": "空值衬衫", "price": 59.0, "discount": 0.5,
         "attributes": {"材质": "", "颜色": "黑色", "促销": ""}},
    ]
    return items_by_id([*items, *extra])


def _rule(segment: str, attributes: list[str]) -> str | None:
    """A test rule that reaches every branch: a world persona's weights, else fixed picks."""
    if segment in PERSONAS:
        return segment_top_aspect(segment, attributes)
    return {"promo": PROMO_ATTRIBUTE, "price": PRICE_ATTRIBUTE, "first": attributes[0], "absent": "尺码",
            "none": None}.get(segment)


def _rows(catalog: dict) -> pd.DataFrame:
    ids = [*catalog, "ghost"]
    segments = [None, "价格敏感", "注重品质", "宝妈", "科技发烧友", "promo", "price", "first", "absent", "none",
                "no-such-persona"]
    rng = np.random.default_rng(7)
    grid = [(i, t, s) for i in ids for t in ODD_TEXTS for s in segments]
    pick = rng.choice(len(grid), size=500, replace=False)
    rows = pd.DataFrame([grid[k] for k in sorted(pick)], columns=["item_id", "text", "segment"])
    return pd.concat([rows, rows.iloc[::7]], ignore_index=True)  # repeated rows stay repeated


def test_feature_columns_equal_the_per_row_reference(items):
    catalog = _catalog(items)
    rows = _rows(catalog)
    got = feature_columns(rows["item_id"].tolist(), rows["text"].tolist(), rows["segment"].tolist(), catalog, _rule)
    want = _reference(rows, catalog, _rule)
    assert len(got) == len(rows)
    for col in want.columns:
        a = got[col].astype(object).where(got[col].notna(), None).tolist()
        b = want[col].astype(object).where(want[col].notna(), None).tolist()
        bad = [(rows.iloc[k].tolist(), a[k], b[k]) for k in range(len(a)) if a[k] != b[k]]
        assert not bad, (col, bad[:3])
    # the sample reaches every branch of the definition
    assert {PRICE_ATTRIBUTE, PROMO_ATTRIBUTE, "尺码"} <= set(want["priority_aspect"].dropna())
    assert want["priority_aspect"].isna().any()
    assert set(want["mentions_priority_aspect"].dropna()) == {True, False}
    assert set(want["length_bucket"]) == {"S", "M", "L", "other"}
    assert want["unfaithful"].isna().any() and want["unfaithful"].eq(True).any()


def test_text_features_rows_are_the_distinct_inputs_in_order(items):
    catalog = _catalog(items)
    rows = _rows(catalog)
    rows.loc[3, "text"] = None  # a missing text is dropped, not scored
    f = text_features(rows, catalog, segment_aspect=_rule)
    want = rows[rows["text"].notna()].drop_duplicates()
    assert f[["item_id", "text"]].values.tolist() == want[["item_id", "text"]].values.tolist()
    assert f["segment"].isna().tolist() == want["segment"].isna().tolist()


def test_the_aspect_rule_is_asked_once_per_segment_and_attribute_names(items):
    catalog = _catalog(items)
    rows = _rows(catalog)
    calls: list[tuple] = []

    def rule(segment, attributes):
        calls.append((segment, tuple(attributes)))
        return _rule(segment, attributes)

    feature_columns(rows["item_id"].tolist(), rows["text"].tolist(), rows["segment"].tolist(), catalog, rule)
    assert len(calls) == len(set(calls))
    known = rows[rows["item_id"].isin(list(catalog)) & rows["segment"].notna()]
    assert set(calls) == {(s, (*catalog[i].attributes, PRICE_ATTRIBUTE)) for i, s in
                          zip(known["item_id"], known["segment"], strict=True)}


def test_no_rule_and_no_rows(items):
    catalog = _catalog(items)
    f = feature_columns(["pb1", "ghost"], ["轻薄", "轻薄"], ["宝妈", None], catalog, None)
    assert f["priority_aspect"].isna().all() and f["mentions_priority_aspect"].isna().all()
    assert f["unfaithful"].isna().tolist() == [False, True]
    empty = text_features(pd.DataFrame({"item_id": [], "text": [], "segment": []}), catalog, segment_aspect=_rule)
    assert empty.empty and {"mentions_promo", "mentions_priority_aspect", "length_bucket"} <= set(empty.columns)


@pytest.mark.parametrize("segment", [None, float("nan")])
def test_a_missing_segment_has_no_aspect(items, segment):
    f = text_features(pd.DataFrame({"item_id": ["tee"], "text": ["纯棉"], "segment": [segment]}), pd.DataFrame(items),
                      segment_aspect=segment_top_aspect)
    assert pd.isna(f.loc[0, "priority_aspect"]) and pd.isna(f.loc[0, "mentions_priority_aspect"])
