"""Compliance checker: normalization, allowlist precedence, item-own facts, our lists, a labelled set."""

from __future__ import annotations

import pytest

from abkit.text.compliance import ALLOWLIST, BANNED_TERMS, ComplianceChecker, Match
from abkit.text.normalize import normalize
from abkit.world import vocab


def terms(matches: list[Match]) -> list[str]:
    return [m.term for m in matches]


@pytest.mark.parametrize("raw, norm", [
    ("ＮＯ．１", "no.1"), ("最 佳", "最佳"), ("最\u200b佳", "最佳"), ("最\u3000佳", "最佳"), ("TOP 1", "top1"),
    ("\ufeff第一\u2060名", "第一名"), ("１００％", "100%"), ("￥９９", "¥99"),
])
def test_normalize(raw, norm):
    assert normalize(raw) == norm


@pytest.mark.parametrize("text, expected", [
    ("ＮＯ．１爆款", ["NO.1"]), ("最 佳选择", ["最佳"]), ("最\u200b好用", ["最好"]), ("全网最低价！", ["全网最低价"]),
    ("TOP1好物", ["TOP1"]), ("top 1好物", ["TOP1"]),
])
def test_normalized_variants_are_caught(compliance, text, expected):
    assert terms(compliance.check(text)) == expected


@pytest.mark.parametrize("text, expected", [
    ("最近很多人买", []), ("最好用的一款", ["最好"]), ("最近最好用", ["最好"]),   # 最近 vs 最
    ("第一次用就爱上", []), ("销量第一", ["销量第一"]), ("第一好用", ["第一"]),      # 第一次 vs 第一
    ("首页推荐", []), ("首家入驻", ["首家"]), ("首选好物", ["首选"]),                 # 首页 vs 首…
    ("最后一步包装", []), ("最后一波优惠", ["最后一波"]), ("最佳赏味期12个月", []),
    ("一级面粉", []), ("国家级工艺", ["国家级"]),
])
def test_allowlist_takes_precedence(compliance, text, expected):
    assert terms(compliance.check(text)) == expected


def test_longest_match_and_offsets(compliance):
    got = compliance.check("真的是史上最低价，全网第一")
    assert terms(got) == ["史上最低价", "全网第一"]
    norm = normalize("真的是史上最低价，全网第一")
    assert [norm[m.start:m.end] for m in got] == ["史上最低价", "全网第一"]
    assert {m.category for m in got} == {"superlative", "rank"}


def test_ascii_terms_need_boundaries(compliance):
    assert compliance.check("laptop1 支架") == []
    assert compliance.check("model no.12") == []
    assert terms(compliance.check("NO.1，值得买")) == ["NO.1"]
    assert compliance.check("TOP120L背包") == []          # no term: a model-like token
    assert terms(compliance.check("TOP1 20L背包")) == ["TOP1"]  # the space separated them
    assert terms(compliance.check("T O P 1好物")) == ["TOP1"]


def test_chinese_punctuation_does_not_hide_terms(compliance):
    assert terms(compliance.check("「绝对」好用！！")) == ["绝对"]
    assert terms(compliance.check("【顶级】面料，，")) == ["顶级"]


def test_item_own_facts_are_allowed(compliance, item):
    assert compliance.check("100%纯棉，夏天穿很舒服") == []     # a composition, not a boast (allowlist)
    assert terms(compliance.check("100%好评，夏天穿很舒服")) == ["100%"]  # a boast without context
    assert compliance.check("100%好评，夏天穿", {"item_id": "x", "attributes": {"好评率": "100%好评"}}) == []  # a fact
    assert terms(compliance.check("100%好评", item("tee"))) == ["100%"]  # not this item's fact
    # a brand that contains a banned word is the item's name, not a claim
    assert compliance.check("最佳云南咖啡，香气浓郁", item("best")) == []
    assert terms(compliance.check("最佳云南咖啡，最好喝", item("best"))) == ["最好"]


def test_extra_allow():
    c = ComplianceChecker(extra_allow=["唯一指定"])
    assert c.check("唯一指定合作") == []
    assert terms(ComplianceChecker().check("唯一指定合作")) == ["唯一"]


def test_public_lists_are_plain_and_cover_text_md():
    assert isinstance(ALLOWLIST, list) and all(isinstance(t, str) for t in ALLOWLIST)
    assert set(BANNED_TERMS) == {"superlative", "rank", "level", "absolute", "authority", "medical", "urgency"}
    flat = {t for ts in BANNED_TERMS.values() for t in ts}
    # docs/text.md, Compliance representative terms are all on our list
    for t in ["最佳", "最低价", "销量第一", "NO.1", "TOP1", "独一无二", "全球首发", "国家级", "销量冠军", "绝对",
              "100%有效", "万能", "驰名商标", "特供", "根治", "抗癌", "仅此一次", "绝版", "最后一波"]:
        assert t in flat


def test_every_world_corruption_term_is_caught(compliance):
    for term in vocab.ABSOLUTE_TERMS:
        assert compliance.check(f"这款{term}好物"), term


def test_vocab_facts_and_persona_phrases_are_clean(compliance):
    """The template grammar's own building blocks must not read as violations."""
    phrases = [v for vals in vocab.value_lexicon().values() for v in vals]
    for p in vocab.PERSONAS.values():
        phrases += p["hooks"] + p["scenes"] + p["hook_words"]
    flagged = [p for p in phrases if compliance.check(p)]
    assert flagged == []


# A small set labelled by hand (1 = violates the ad law as we read Art. 9/17).
LABELLED = [
    ("这款面霜最好用", 1), ("最近很火的面霜", 0), ("全网销量第一的充电宝", 1), ("第一次买就回购", 0),
    ("行业领先的降噪", 1), ("顶级面料", 1), ("首页推荐好物", 0), ("独家配方", 1), ("抗癌蔬菜", 1),
    ("治疗失眠的枕头", 1), ("宝宝放心用", 0), ("保质期12个月", 0), ("最佳赏味期内发货", 0), ("绝对划算", 1),
    ("完美贴合脸型", 1), ("仅此一次的机会", 1), ("国家级非遗工艺", 1), ("性价比很能打", 0),
    ("续航30小时", 0), ("一级面粉制作", 0), ("史无前例的低价", 1), ("万能清洁剂", 1), ("送长辈很贴心", 0),
    ("百分百纯天然", 1), ("中国名牌产品", 1), ("第一步先清洁", 0), ("首选的通勤包", 1), ("极致轻薄", 1),
    ("最多可装20本书", 0), ("最爱这个配色", 0), ("无敌好用", 1), ("排毒养颜", 1), ("唯一的缺点是贵", 0),
    ("畅销爆款", 0), ("No.1 选择", 1), ("这是第一批货", 0),
]


def test_precision_recall_on_labelled_set(compliance):
    pred = [bool(compliance.check(t)) for t, _ in LABELLED]
    gold = [bool(y) for _, y in LABELLED]
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    precision = tp / sum(pred)
    recall = tp / sum(gold)
    # Measured: recall 1.0; precision 0.8 -- the word list flags 最多/最爱/唯一的缺点/第一批,
    # which a context-aware reviewer (SAMR 2023 guideline) would pass.
    assert recall == 1.0
    assert precision >= 0.8
    false_pos = {t for (t, g), p in zip(LABELLED, pred, strict=True) if p and not g}
    assert false_pos <= {"最多可装20本书", "最爱这个配色", "唯一的缺点是贵", "这是第一批货"}
