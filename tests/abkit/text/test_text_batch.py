"""Batched text scoring gives, pair for pair, what the one-text checkers give (abkit.text.batch, scoring).

The reference is ComplianceChecker.check + FaithfulnessChecker.check called on each (text, item)
on its own -- the path lint-reasons and the generators use. The corpora were not used to tune the
batch code: the hand-labelled independent set, a catalog's texts read against the *wrong* items,
and hand-written odd inputs (full-width forms, zero-width and NUL characters, combining marks,
newlines, digit ranges, unknown and missing items).
"""

from __future__ import annotations

import random
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abkit.text.evaluation import load_labelled
from abkit.text.items import items_by_id
from abkit.text.lexicon import ValueLexicon
from abkit.text.ngrams import encode_chars, is_sorted_distinct, ngram_table, per_text_unique
from abkit.text.normalize import normalize, normalize_both, normalize_both_many
from abkit.text.numeric import extract_numeric, extract_numeric_many
from abkit.text.personalization import personalization
from abkit.text.scoring import PROMO_CLAIM_KINDS, TextChecker, score_pairs
from abkit.text.selfbleu import seeded_sample
from abkit.text.verdicts import claim_table, judge_pairs
from abkit.world.textlex import world_extension

DATA = Path(__file__).parent / "data" / "independent"

ODD_TEXTS = [
    "", " ", "\n", "ＮＯ．１的充电宝，ＴＯＰ１ 20L", "TOP120L大容量", "最\u200b佳选择，全网第\u00ad一", "e\u0301\u0323 cafe\u0301",
    "\u0301开头的组合符", "A\x00B 最好", "第一次买，最近很火", "0到6个月宝宝可用，3~4人份", "5块就能带走", "售价5块",
    "２００００ｍＡｈ超大容量，续航30小时", "满199减30\n直降20元", "限时8折，第二件半价，买一送一", "10000mAh，轻薄好带",
    "纯棉T恤，夏季白色，满199减30", "SPF50+ PA++++，50ml清爽", "适配iPhone15，6.1英寸，防摔", "云南咖啡，浓郁，最佳风味",
    "ﬁne ß İstanbul 100%棉", "\U0001F525爆款\U0001F525 最畅销之一", "增强免疫力，祛痘，治疗失眠", "128G 5G手机，IPX4防水",
]


def reference(checker: TextChecker, text: str, item):
    return checker.compliance.check(text, item), (checker.faithfulness.check(text, item) if item else None)


def assert_same_as_one_by_one(checker: TextChecker, texts, item_ids, catalog, jobs: int) -> None:
    """Both paths of score_pairs: pair by pair (keep_supported) and the array path (verdicts.judge_pairs)."""
    for keep in (True, False):
        s = score_pairs(texts, item_ids, catalog, compliance=checker.compliance, faithfulness=checker.faithfulness,
                        keep_supported=keep, jobs=jobs)
        assert (s.supported_claims is not None) == keep
        for i, (text, item_id) in enumerate(zip(texts, item_ids, strict=True)):
            item = catalog.get(item_id) if item_id is not None else None
            matches, res = reference(checker, text, item)
            assert s.matches.get(i, []) == matches, (text, item_id)
            assert s.violation[i] == bool(matches)
            for cat in s.categories:
                assert s.categories[cat][i] == any(m.category == cat for m in matches)
            if res is None:
                assert np.isnan(s.unfaithful[i]) and np.isnan(s.coverage[i]) and not s.mentions_promo[i]
                continue
            assert s.contradicted.get(i, []) == res.contradicted, (text, item_id, keep)
            assert s.unsupported_claims.get(i, []) == res.unsupported, (text, item_id, keep)
            if keep:
                assert s.supported_claims.get(i, []) == res.supported, (text, item_id)
            assert s.unfaithful[i] == float(res.unfaithful) and s.unsupported[i] == float(bool(res.unsupported))
            assert s.subjective[i] == float(bool(res.subjective)), (text, item_id, keep)
            assert (res.coverage is None and np.isnan(s.coverage[i])) or s.coverage[i] == res.coverage, (
                text, item_id, keep)
            claims = (*res.supported, *res.contradicted, *res.unsupported)
            assert s.mentions_promo[i] == any(c.kind in PROMO_CLAIM_KINDS for c in claims), (text, item_id, keep)
        for d in (s.matches, s.contradicted, s.unsupported_claims, s.supported_claims or {}):
            assert list(d) == sorted(d)  # pair order, as the per-pair loop gave it


@pytest.fixture(scope="module")
def independent():
    catalog, pairs = load_labelled(DATA)
    return catalog, pairs, TextChecker.build(catalog, world_extension())


@pytest.mark.parametrize("jobs", [1, 2])
def test_independent_corpus_and_its_texts_on_other_items(independent, jobs):
    catalog, pairs, checker = independent
    texts, ids = pairs["text"].tolist(), pairs["item_id"].tolist()
    rng = random.Random(5)
    keys = list(catalog)
    # the same texts read against other items: mostly contradicted / unsupported claims, many items per text
    texts += texts[:600]
    ids += [rng.choice(keys) for _ in range(600)]
    assert_same_as_one_by_one(checker, texts, ids, catalog, jobs)


def test_odd_texts_against_every_kind_of_item(items):
    catalog = items_by_id(items)
    checker = TextChecker.build(catalog)
    combos = list(product(ODD_TEXTS, [*catalog, None, "not-in-catalog"]))
    texts, ids = [t for t, _ in combos], [i for _, i in combos]
    assert_same_as_one_by_one(checker, texts, ids, catalog, jobs=1)


def test_normalize_many_equals_one_by_one():
    rng = random.Random(11)
    pieces = ODD_TEXTS + ["\u1100\u1161", "\u1161", "A\u030a\u0323", "\u3000全角\u3000", "…", "①", "™", "\ud800"]
    for _ in range(500):
        batch = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 3))) for _ in range(rng.randint(1, 6))]
        assert normalize_both_many(batch) == [normalize_both(t) for t in batch], batch
    assert normalize_both_many([]) == []


def test_numeric_and_mentions_many_equal_one_by_one(independent):
    catalog, pairs, checker = independent
    cased = [c for c, _ in normalize_both_many(pairs["text"].tolist() + ODD_TEXTS)]
    assert extract_numeric_many(cased) == [extract_numeric(c) for c in cased]
    lex: ValueLexicon = checker.faithfulness.lexicon
    lowered = [c.lower() for c in cased]
    assert lex.mentions_many(lowered) == [lex.mentions(x) for x in lowered]
    assert sum(map(len, extract_numeric_many(cased))) > 100  # the corpus does exercise the patterns


def test_distinct_n_and_per_text_unique_against_python_sets(independent):
    _, pairs, _ = independent
    texts = sorted(set(pairs["text"])) + ["哈哈哈哈哈", "a b  c", "超值超值超值"]
    enc = encode_chars(texts)
    stripped = ["".join(t.split()) for t in texts]
    for n in (1, 2, 3, 4):
        grams = [[s[i:i + n] for i in range(len(s) - n + 1)] for s in stripped]
        table = ngram_table(enc, n)
        assert table.unique == len({g for gs in grams for g in gs}) and table.total == sum(map(len, grams))
        uniq, total = per_text_unique(table, len(texts))
        assert uniq.tolist() == [len(set(gs)) for gs in grams] and total.tolist() == [len(gs) for gs in grams]


def test_seeded_sample_same_from_sorted_or_unsorted_input():
    texts = [f"文本{i % 700}" for i in range(2000)]
    rng = random.Random(2)
    shuffled = texts[:]
    rng.shuffle(shuffled)
    pool = sorted(set(texts))
    assert is_sorted_distinct(pool) and not is_sorted_distinct(shuffled) and not is_sorted_distinct(["b", "b"])
    assert seeded_sample(pool, 50, "s") == seeded_sample(shuffled, 50, "s") == seeded_sample(texts, 50, "s")


def _personalization_before(pairs: pd.DataFrame, *, seed: str, max_items: int, per_segment: int = 2) -> tuple:
    """The pandas path before the sampled-items-only change (kept here as the reference)."""
    from itertools import combinations

    from abkit.text.selfbleu import seeded_rng

    df = pairs.loc[pairs["segment"].notna(), ["item_id", "segment", "text"]].drop_duplicates()
    df = df.sort_values(["item_id", "segment", "text"], kind="stable")
    df = df[df.groupby(["item_id", "segment"], sort=False).cumcount() < per_segment]
    nseg = df.groupby("item_id", sort=True)["segment"].nunique()
    eligible = nseg.index[nseg >= 2].to_numpy()
    if eligible.size > max_items:
        eligible = np.sort(seeded_rng(seed, "personalization").choice(eligible, size=max_items, replace=False))
    df = df[df["item_id"].isin(set(eligible))]
    scores = []
    for _item, grp in df.groupby("item_id", sort=True):
        segs = grp["segment"].tolist()
        grams = [frozenset(t[i:i + 3] for i in range(len(t) - 2)) if len(t) >= 3 else frozenset({t})
                 for t in ("".join(x.split()) for x in grp["text"])]
        sims = [len(grams[i] & grams[j]) / len(grams[i] | grams[j])
                for i, j in combinations(range(len(segs)), 2) if segs[i] != segs[j]]
        scores.append(1.0 - float(np.mean(sims)))
    return float(np.mean(scores)), len(scores)


@pytest.mark.parametrize("max_items", [5, 40, 2000])
def test_personalization_unchanged(independent, max_items):
    _, pairs, _ = independent
    rng = random.Random(9)
    df = pairs[["item_id", "text"]].copy()
    df["segment"] = [rng.choice(["学生", "宝妈", None, "白领"]) for _ in range(len(df))]
    df = pd.concat([df, df.iloc[:300]])  # repeated rows
    got = personalization(df, seed="p", max_items=max_items)
    assert (got["personalization"], got["personalization_items"]) == _personalization_before(
        df, seed="p", max_items=max_items)


def test_normalize_many_keeps_casefold_and_space_rules():
    cased, folded = normalize_both_many(["  ＡＢ  Ｃ\u200bd  "])[0]
    assert cased == "AB Cd" and folded == normalize("  ＡＢ  Ｃ\u200bd  ") == "abcd"


def test_synonym_spellings_judged_by_their_own_surface():
    """全棉 and 纯棉 share one canonical key; only the spelling in the title is the item's own fact."""
    items = [{"item_id": "t1", "category": "服饰", "brand": "禾森", "title": "禾森 全棉T恤", "price": 99.0, "attributes": {}},
             {"item_id": "t2", "category": "服饰", "brand": "禾森", "title": "禾森 T恤", "price": 99.0,
              "attributes": {"材质": "纯棉"}}]
    catalog = items_by_id(items)
    checker = TextChecker.build(catalog)
    texts = ["全棉舒适", "纯棉舒适", "纯棉舒适，全棉", "全棉舒适"]
    one = [reference(checker, t, catalog["t1"])[1] for t in texts]
    assert [c.surface for c in one[0].supported] == ["全棉"] and [c.surface for c in one[1].unsupported] == ["纯棉"]
    assert_same_as_one_by_one(checker, texts, ["t1"] * 4, catalog, jobs=1)


def test_claim_regex_matches_as_the_one_group_per_alternative_form(independent):
    """CLAIM_RE dropped the group around each alternative; the matches and the alternative each
    one is attributed to stay those of the grouped form."""
    import re

    from abkit.text import numeric

    grouped = re.compile(f"(?=[{numeric._ANCHORS}])(?:" + "|".join(
        f"(?P<{n}>{numeric._alternative(n, p)})" for n, _, p in numeric._PATTERNS) + ")")
    _, pairs, _ = independent
    rng = random.Random(13)
    parts = ["满199减30", "8折", "八五折", "¥", "159", "元", "块", "3-4人", "5支装", "128G", "5G", "IPX4", "spf50",
             "保质期", "18个月", "半", "价", "第二件", "买一送一", "续航", "30小时", "xl码", "S", "2XL", "号", "1.5", "m床",
             "好评率", "99%", "月销", "2", "万", "直降", "20%", "off", "一", "斤", "iPhone15", " ", "到手价"]
    texts = [c for c, _ in normalize_both_many(pairs["text"].tolist() + ODD_TEXTS)]
    texts += ["".join(rng.choice(parts) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    for text in texts:
        old = [(m.lastgroup, m.span()) for m in grouped.finditer(text)]
        new = [(numeric._ALTERNATIVE_OF[m.lastgroup], m.span()) for m in numeric.CLAIM_RE.finditer(text)]
        assert new == old, text


FUZZ_ITEMS = [
    {"item_id": "pen5", "category": "文具", "brand": "墨点", "title": "墨点 水彩笔", "price": 19.9, "discount": 0.0,
     "attributes": {"规格": "5支装", "颜色": "黑色"}},
    {"item_id": "pen36", "category": "文具", "brand": "墨点", "title": "墨点 水彩笔套装", "price": 39.0, "discount": 0.1,
     "attributes": {"规格": "36色", "卖点": "可水洗"}},
    {"item_id": "twin", "category": "服饰", "brand": "禾森", "title": "禾森 白T", "price": 99.0, "discount": 0.0,
     "attributes": {"颜色": "白色", "主色": "白色", "材质": "纯棉", "促销": "满199减30"}},
    {"item_id": "pb20k", "category": "数码", "brand": "澜屿", "title": "澜屿 大容量充电宝", "price": 159.0, "discount": 0.2,
     "attributes": {"规格": "20000mAh", "接口": "Type-C"}},
    {"item_id": "bare", "category": "杂货", "brand": "", "title": "收纳盒", "price": None, "discount": 0.0,
     "attributes": {}},
]
FRAGMENTS = ["36色", "5支装", "10000mAh", "20000MAH", "20000mah", "128G", "5G", "99元", "8折", "满199减30", "白色", "纯棉",
             "SPF50+", "50ml", "0~6个月", "Top1", "NO.1", "轻薄", "浓郁", "云南", "最佳", "iPhone15", "6.1英寸", "防摔",
             "夏季", "100%纯棉", "简约", "显瘦", "高级感", "黑色", "可水洗", "TYPE-C", "type-c", "第二件半价", "包邮", "限时"]


def test_array_path_on_fuzzed_texts_with_overlapping_claims(items):
    """Random texts of values, numbers inside values (36色 on a 5支装 item), a value spelled as a number
    (20000mAh), one value under two keys and upper-case spellings, read against every item."""
    catalog = items_by_id([*items, *FUZZ_ITEMS])
    checker = TextChecker.build(catalog)
    rng = random.Random(17)
    texts, ids = [], []
    for _ in range(700):
        texts.append(rng.choice(["", "，", " "]).join(rng.sample(FRAGMENTS, rng.randint(1, 4))))
        ids.append(rng.choice(list(catalog)))
    assert_same_as_one_by_one(checker, texts, ids, catalog, jobs=1)
    # the array verdicts on their own (score_pairs re-judges flagged pairs one by one, which would hide a
    # wrongly flagged pair): each summary equals check_cased's
    codes, uniq_items = pd.factorize(pd.Series(ids))
    text_codes, uniq_texts = pd.factorize(pd.Series(texts))
    faith = checker.faithfulness
    table = claim_table(faith, [normalize(t, casefold=False, keep_spaces=True) for t in uniq_texts])
    flags = judge_pairs(faith, [catalog[k] for k in uniq_items], codes, text_codes, table, PROMO_CLAIM_KINDS)
    for i, (text, item_id) in enumerate(zip(texts, ids, strict=True)):
        res = faith.check(text, catalog[item_id])
        claims = (*res.supported, *res.contradicted, *res.unsupported)
        assert (flags.contradicted[i], flags.unsupported[i], flags.subjective[i], flags.promo[i]) == (
            bool(res.contradicted), bool(res.unsupported), bool(res.subjective),
            any(c.kind in PROMO_CLAIM_KINDS for c in claims)), (text, item_id)
        assert (flags.n_covered[i], flags.n_attributes[i]) == (len(res.covered), res.n_attributes), (text, item_id)


@pytest.mark.parametrize("dense", [True, False])
def test_distinct_marks_per_pair_against_python_sets(monkeypatch, dense):
    """Coverage counts distinct (pair, attribute) marks, repeated marks (a value named twice, or named
    and also claimed) once, in the dense grid and in the sorted fallback for very many cells."""
    from abkit.text import verdicts

    if not dense:
        monkeypatch.setattr(verdicts, "DENSE_MARKS", 0)
    rng = np.random.default_rng(3)
    n, width = 50, 7
    parts = [(rng.integers(0, n, 80), rng.integers(0, width, 80)) for _ in range(3)]
    want = [len({(int(p), int(q)) for pp, qq in parts for p, q in zip(pp, qq, strict=True) if p == i}) for i in range(n)]
    assert verdicts._distinct_per_pair(parts, n, width).tolist() == want
    assert verdicts._distinct_per_pair([(np.zeros(0, np.int64), np.zeros(0, np.int64))], 3, 0).tolist() == [0, 0, 0]


@pytest.mark.parametrize("jobs", [1, 2])
def test_claim_lists_for_the_first_pairs_only(independent, jobs):
    """claim_lists=k skips the per-pair judge for later flagged pairs: every flag is unchanged and the first k
    contradicted / unsupported pairs (in the caller's order, also across item-sorted worker chunks) keep their lists."""
    catalog, pairs, checker = independent
    rng = random.Random(8)
    texts = pairs["text"].tolist() * 2
    ids = pairs["item_id"].tolist() + [rng.choice(list(catalog)) for _ in range(len(pairs))]
    kw = dict(compliance=checker.compliance, faithfulness=checker.faithfulness, jobs=jobs)
    full = score_pairs(texts, ids, catalog, **kw)
    some = score_pairs(texts, ids, catalog, claim_lists=3, **kw)
    for name in ("violation", "unfaithful", "unsupported", "coverage", "mentions_promo", "subjective"):
        np.testing.assert_array_equal(getattr(some, name), getattr(full, name), err_msg=name)
    assert some.matches == full.matches
    for got, want in ((some.contradicted, full.contradicted), (some.unsupported_claims, full.unsupported_claims)):
        assert len(want) > 10 and 3 <= len(got) < len(want)
        assert list(got.items())[:3] == list(want.items())[:3]
        assert all(got[i] == want[i] for i in got)


def test_clause_scans_on_words_and_values_holding_separators():
    """Claims found once per distinct clause (abkit.text.clauses) equal the one-text checker's: a subjective word
    holding a separator (绝了!) takes that character out of the cut set, an attribute value holding one (黑,白)
    is looked for in the whole text, a text that lowering lengthens (İ) is scanned cased, and a NUL inside a
    text cuts there without ending the text."""
    from abkit.text.clauses import separators_outside
    from abkit.text.extension import TextExtension
    from abkit.text.lexicon import LexiconConfig

    items = [{"item_id": "duo", "category": "服饰", "brand": "禾森", "title": "禾森 双色T恤", "price": 99.0,
              "discount": 0.1, "attributes": {"颜色": "黑,白", "材质": "纯棉", "规格": "5支装"}},
             {"item_id": "pb", "category": "数码", "brand": "澜屿", "title": "澜屿 充电宝", "price": 129.0,
              "discount": 0.0, "attributes": {"规格": "10000mAh", "卖点": "轻薄"}}]
    catalog = items_by_id(items)
    checker = TextChecker.build(catalog, TextExtension(LexiconConfig(subjective={"绝了!"})))
    assert "!" not in separators_outside(e[4] for e in checker.faithfulness.lexicon.entries)
    pieces = ["绝了!", "黑,白", "纯棉", "İ", "10000mAh", "5块", "售价5块", "0~6个月", "满199减30", "8折", "轻薄", "5支装",
              "36色", "Type-C", "简约", "iPhone15", "99元"]
    seps = [",", "，", "。", "!", "！", "?", "；", ";", " ", ""]
    rng = random.Random(21)
    texts = ["".join(rng.choice(pieces) + rng.choice(seps) for _ in range(rng.randint(1, 5))) for _ in range(400)]
    ids = [rng.choice(list(catalog)) for _ in texts]
    plain = [k for k, t in enumerate(texts) if "İ" not in t]  # every text keeps its length when lowered
    batches = [(texts, ids), ([texts[k] for k in plain], [ids[k] for k in plain]),
               (texts + ["黑\x00白,5块", "A\x00B绝了!"], ids + ["duo", "pb"])]
    for batch, batch_ids in batches:
        assert_same_as_one_by_one(checker, batch, batch_ids, catalog, jobs=1)


def test_char_encoding_drops_whitespace_and_nul_as_before():
    """encode_chars drops whitespace below U+3001 (U+3000 included, U+FEFF kept) and a NUL inside a text."""
    enc = encode_chars(["a\x00b c\u3000d", "e\ufeff\u2003f", "\t"])
    ref = encode_chars(["abcd", "e\ufefff", ""])
    assert enc.lengths.tolist() == [4, 3, 0]
    np.testing.assert_array_equal(enc.codepoints, ref.codepoints)
