"""Faithfulness checker: numeric claims, discounts, prices, attribute values, gold corruptions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from abkit.text.normalize import normalize
from abkit.text.numeric import extract_numeric


def verdicts(faith, text, it):
    r = faith.check(text, it)
    return ([c.surface for c in r.contradicted], [c.surface for c in r.unsupported], [c.surface for c in r.supported])


def nums(text):
    return [(c.kind, c.value) for c in extract_numeric(normalize(text, casefold=False, keep_spaces=True))]


@pytest.mark.parametrize("text, expected", [
    ("适配iPhone15，6.1英寸", [("inch", 6.1)]),
    ("SPF50+ PA++++", [("spf", 50.0)]),
    ("２００００ｍＡｈ", [("mah", 20000.0)]),
    ("20000 mAh", [("mah", 20000.0)]),
    ("128G 5G手机", [("storage_g", 128.0)]),
    ("净含量500g，1kg装", [("g", 500.0), ("g", 1000.0)]),
    ("20L大容量，500ml", [("ml", 20000.0), ("ml", 500.0)]),
    ("IPX4防水，IP68", [("ip", "IPX4"), ("ip", "IP68")]),
    ("可折叠，不打折", []),
    ("八五折，7.5折", [("zhe", 8.5), ("zhe", 7.5)]),
    ("满199减30，直降20元，10元券", [("manjian", (199.0, 30.0)), ("zhijiang", 20.0), ("coupon", 10.0)]),
    ("到手价￥159", [("price", 159.0)]),
    ("续航30小时，24小时发货，锁温12小时", [("battery_h", 30.0), ("ship_h", 24.0), ("keep_h", 12.0)]),
])
def test_numeric_extraction(text, expected):
    assert nums(text) == expected


def test_capacity_mismatch_is_contradicted(faith, item):
    c, u, s = verdicts(faith, "20000mAh超大容量", item("pb1"))
    assert c == ["20000mAh"]
    c, u, s = verdicts(faith, "10000mAh，轻薄好带", item("pb1"))
    assert c == [] and "10000mAh" in s and "轻薄" in s


def test_discount_the_item_lacks(faith, item):
    for text in ["限时8折", "满199减30", "直降20元", "第二件半价", "买一送一", "领10元券", "满59包邮"]:
        c, _u, _s = verdicts(faith, text, item("pb1"))
        assert len(c) == 1, text
    assert faith.check("8折", item("pb1")).contradicted[0].note == "item has no discount or promotion"


def test_discount_the_item_has(faith, item):
    tee = item("tee")  # price 199, discount 0.2 (8折), promo 满199减30
    for text in ["限时8折", "八折", "满199减30", "直降39.8元", "直降40元"]:
        c, _u, s = verdicts(faith, text, tee)
        assert c == [] and s, text
    for text in ["7折", "满299减50", "直降60元"]:
        c, _u, _s = verdicts(faith, text, tee)
        assert len(c) == 1, text


def test_prices(faith, item):
    tee = item("tee")  # list 199, effective 159.2; after 满199减30: 169 / 129.2
    for text in ["¥199", "到手价159", "券后159.2元", "到手价¥169", "129元到手"]:
        assert verdicts(faith, text, tee)[0] == [], text
    for text in ["¥99", "到手价120", "仅需89元"]:
        assert len(verdicts(faith, text, tee)[0]) == 1, text


def test_spf_and_model_numbers(faith, item):
    c, _u, s = verdicts(faith, "SPF50+高倍防晒，50ml", item("sun"))
    assert c == [] and set(s) >= {"SPF50", "50ml"}
    assert verdicts(faith, "SPF30日常防晒", item("sun"))[0] == ["SPF30"]
    assert verdicts(faith, "100ml大瓶", item("sun"))[0] == ["100ml"]
    c, u, s = verdicts(faith, "iPhone15专用，6.1英寸", item("case"))
    assert c == [] and u == [] and "6.1英寸" in s
    assert verdicts(faith, "6.7英寸大屏", item("case"))[0] == ["6.7英寸"]


def test_attribute_values(faith, item):
    tee = item("tee")
    c, u, s = verdicts(faith, "纯棉面料，夏天穿，白色百搭", tee)
    assert c == [] and set(s) == {"纯棉", "夏天", "白色"}
    c, u, s = verdicts(faith, "真丝面料，冬季保暖，黑色", tee)
    assert set(c) == {"真丝", "冬季", "黑色"}
    assert u == ["保暖"]  # a selling point the item does not list: unsupported, not contradicted
    assert verdicts(faith, "全棉亲肤", tee)[0] == []  # synonym of 纯棉


def test_unsupported_claims(faith, item):
    c, u, _s = verdicts(faith, "主动降噪，续航40小时", item("pb1"))
    assert c == [] and set(u) == {"主动降噪", "续航40小时"}
    r = faith.check("这款充电宝很好", item("pb1"))
    assert not r.unfaithful and r.unsupported == []


def test_coverage(faith, item):
    r = faith.check("10000mAh，24小时发货", item("pb1"))
    assert r.covered == {"规格", "发货"} and r.coverage == pytest.approx(2 / 3)


def test_accepts_json_attributes_and_request_objects(faith):
    from generators.base import ReasonRequest

    req = ReasonRequest(item_id="x", category="数码", brand="b", title="t", price=100.0, discount=0.0,
                        attributes={"规格": "20000mAh"})
    assert faith.check("10000mAh", req).unfaithful
    row = {"item_id": "y", "price": 100, "discount": None, "attributes": '{"规格": "20000mAh"}'}
    assert not faith.check("20000mAh", row).unfaithful


def test_world_gold_corruptions():
    """Recall/precision on the synthetic world's gold corruptions (generators/corpus.py), with the world's
    vocabulary passed in as an extension (abkit.text itself knows nothing about the world)."""
    from abkit.text.faithfulness import FaithfulnessChecker
    from abkit.text.items import items_by_id
    from abkit.text.scoring import score_pairs
    from abkit.world.catalog import make_catalog
    from abkit.world.textlex import world_extension
    from generators.corpus import build_corpus

    items = make_catalog(120, seed=3)
    df = build_corpus(items, personas=["价格敏感", "宝妈", "科技发烧友", None], seed=5, corrupt_rate=0.4)
    catalog = items_by_id(items)
    s = score_pairs(df["text"].tolist(), df["item_id"].tolist(), catalog,
                    faithfulness=FaithfulnessChecker(catalog.values(), extension=world_extension()))
    kind = df["corrupted"].fillna("clean").to_numpy()
    clean = kind == "clean"
    assert clean.sum() > 100 and (kind == "fake_discount").sum() > 20
    # no false alarms on faithful texts
    assert s.unfaithful[clean].sum() == 0 and s.violation[clean].sum() == 0
    assert s.unsupported[clean].sum() == 0
    # injected banned terms and fake discounts are caught
    assert s.violation[kind == "banned_term"].all()
    assert s.unfaithful[kind == "fake_discount"].mean() >= 0.97
    # invented specs are flagged as unsupported -- or subjective when the invented value is a style word
    # (显白, 国潮): style claims are never counted as unsupported; wrong values as contradicted or unsupported
    subjective = np.nan_to_num(s.subjective) > 0
    invented = kind == "invented_spec"
    assert (s.unsupported[invented] + subjective[invented] > 0).mean() >= 0.97
    wrong = kind == "wrong_value"
    assert (s.unfaithful[wrong] + s.unsupported[wrong] + subjective[wrong] > 0).mean() >= 0.97
    lex = FaithfulnessChecker(extension=world_extension()).lexicon
    factual = ~np.array([any(normalize(v) in lex.subjective or a in lex.style_keys for a, v in json.loads(m))
                         for m in df["mentions"]])
    assert s.unsupported[invented & factual].mean() >= 0.97
    assert (s.unfaithful[wrong & factual] + s.unsupported[wrong & factual] > 0).mean() >= 0.97
