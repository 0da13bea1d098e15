"""The per-arm diversity block: contract keys, equal-N comparison, weights, injected truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from abkit.spec import TEXT_METRICS
from abkit.text.arm_metrics import arm_text_metrics, compare_arms_equal_n
from abkit.text.diversity import diversity
from abkit.text.selfbleu import seeded_sample, self_bleu
from abkit.world.textlex import world_extension


@pytest.fixture(scope="module")
def pairs():
    return pd.DataFrame({
        "item_id": ["pb1", "pb1", "tee", "tee", "tee", "sun", "ghost"],
        "text": ["10000mAh，轻薄好带", "最好的充电宝，限时8折", "纯棉夏天穿", "真丝面料", "纯棉夏天穿",
                 "SPF50+清爽", "随便写写"],
        "segment": ["学生党", "宝妈", "学生党", "宝妈", "宝妈", None, None],
        "exposures": [10, 5, 3, 2, 4, 1, 1],
    })


def test_contract_fields_and_values(pairs, items):
    # the five hand-written items are world-like: the world's vocabulary tells 真丝 is a 材质
    m = arm_text_metrics(pairs, pd.DataFrame(items), seed="reason_gen_v1", text_lexicon=world_extension())
    for key in ("texts", "distinct_1", "distinct_2", "self_bleu", "ad_law_violation_rate", "unfaithful_rate"):
        assert key in m
    for key in TEXT_METRICS:  # every metric a spec's text guardrail may name
        assert key in m, key
    distinct_texts = sorted(set(pairs["text"]))
    assert m["texts"] == len(distinct_texts) == 6
    assert m["pairs"] == 6  # (tee, 纯棉夏天穿) shown to two segments is one pair
    d = diversity(distinct_texts)
    assert m["distinct_2"] == pytest.approx(d["distinct_2"])
    assert m["self_bleu"] == pytest.approx(self_bleu(distinct_texts, seed="reason_gen_v1"))
    assert m["ad_law_violation_rate"] == pytest.approx(1 / 6)       # 最好
    assert m["unfaithful_rate"] == pytest.approx(2 / 5)             # 8折 on pb1, 真丝 on tee; ghost unknown
    assert m["items_missing"] == 1
    assert m["violation_rate_by_category"]["superlative"] == pytest.approx(1 / 6)
    assert m["examples"]["unfaithful"][0]["claims"][0]["claim"] == "8折"
    json.dumps(m, allow_nan=False)  # JSON-safe, no NaN


def test_exposure_weighted(pairs, items):
    m = arm_text_metrics(pairs, pd.DataFrame(items), seed="s", text_lexicon=world_extension())
    w = m["exposure_weighted"]
    # pairs (sorted by item, text): ghost 1, pb1 8折 5 (bad), pb1 10000mAh 10, sun 1, tee 纯棉 7, tee 真丝 2 (unfaithful)
    assert w["exposures"] == 26
    assert w["ad_law_violation_rate"] == pytest.approx(5 / 26)
    assert w["unfaithful_rate"] == pytest.approx((5 + 2) / 25)
    assert w["top_text_share"] == pytest.approx(10 / 26)


def test_equal_n_comparison(items):
    rng = np.random.default_rng(0)
    small = pd.DataFrame({"item_id": "pb1", "text": [f"轻薄充电宝{i}号" for i in range(30)]})
    big = pd.DataFrame({"item_id": "pb1", "text": ["".join(rng.choice(list("好用便宜质量不错推荐"), 12)) for _ in range(300)]})
    out = compare_arms_equal_n({"control": small, "neural": big}, pd.DataFrame(items), seed="k", self_bleu_sample=50)
    assert out["control"]["sample_n"] == out["neural"]["sample_n"] == 30
    expect = diversity(seeded_sample(big["text"], 30, "k", "at_n"))["distinct_2"]
    assert out["neural"]["distinct_2_at_n"] == pytest.approx(expect)
    assert out["control"]["distinct_2_at_n"] == pytest.approx(out["control"]["distinct_2"])
    capped = compare_arms_equal_n({"a": small, "b": big}, None, seed="k", sample_n=10, self_bleu_sample=0)
    assert capped["a"]["sample_n"] == 10 and capped["b"]["self_bleu"] is None


def test_injected_fake_discounts_are_measured():
    """An arm whose generator invents promotions for 20% of texts shows unfaithful_rate ≈ 0.2."""
    from abkit.world.catalog import make_catalog
    from generators.base import ReasonRequest
    from generators.template import TemplateGenerator

    items = make_catalog(600, seed=11)
    reqs = [ReasonRequest(item_id=r.item_id, category=r.category, brand=r.brand, title=r.title, price=r.price,
                          discount=r.discount, attributes=json.loads(r.attributes), segment=seg)
            for r in items.itertuples() for seg in ("学生党", "宝妈")]
    gen = TemplateGenerator()
    clean = gen.generate(reqs, arm="control", settings={})
    dirty = gen.generate(reqs, arm="bad", settings={"inject_unfaithful_rate": 0.2})

    def frame(rs):
        return pd.DataFrame({"item_id": [r.item_id for r in rs], "text": [r.text for r in rs],
                             "segment": [r.segment for r in rs]})

    out = compare_arms_equal_n({"control": frame(clean), "bad": frame(dirty)}, items, seed="t", self_bleu_sample=100)
    assert out["control"]["unfaithful_rate"] == 0.0
    assert out["control"]["ad_law_violation_rate"] == 0.0
    injected = np.mean([r.features["corrupted"] is not None for r in dirty])
    pairs_bad = frame(dirty).drop_duplicates(["item_id", "text"])
    assert out["bad"]["unfaithful_rate"] == pytest.approx(injected * len(dirty) / len(pairs_bad), abs=0.03)
    assert out["bad"]["promo_mention_rate"] > out["control"]["promo_mention_rate"]


def test_parallel_scoring_matches_serial(pairs, items):
    many = pd.concat([pairs] * 20, ignore_index=True)
    many["item_id"] = [f"{i}" if i != "ghost" else "ghost" for i in many["item_id"]]
    many["text"] = many["text"] + pd.Series(range(len(many))).astype(str)
    one = arm_text_metrics(many, pd.DataFrame(items), seed="p", jobs=1, self_bleu_sample=0)
    two = arm_text_metrics(many, pd.DataFrame(items), seed="p", jobs=2, self_bleu_sample=0)
    assert one == two and one["ad_law_violation_rate"] > 0 and one["unfaithful_rate"] > 0


def test_texts_sorted_in_str_order_by_arrow_and_by_the_python_fallback():
    """Arrow sorts UTF-8 bytes: code point order as str does (U+FFFF before U+10000, unlike UTF-16); a lone
    surrogate is no UTF-8 and the Python sort takes over."""
    import random

    from abkit.text.arm_metrics import _sorted_texts

    rng = random.Random(1)
    pool = ["a", "B", "é", "e\u0301", "\U0001F525x", "\uffff", "中", "", "ab", "a\x00", "Z", "\U00010000"]
    for surrogate in (False, True):
        for _ in range(100):
            picks = pool + ["\ud800z"] if surrogate else pool
            distinct = list(dict.fromkeys("".join(rng.choice(picks) for _ in range(rng.randint(0, 3)))
                                          for _ in range(rng.randint(1, 12))))
            code = np.array([rng.randrange(len(distinct)) for _ in range(20)])
            texts, rank = _sorted_texts(distinct, code)
            assert texts == sorted(distinct)
            assert [texts[r] for r in rank] == [distinct[c] for c in code]
