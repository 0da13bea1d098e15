"""distinct-n, entropy-n, repetition, lengths, personalization: hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from abkit.text.diversity import diversity, length_stats, repetition
from abkit.text.ngrams import encode_chars
from abkit.text.personalization import personalization


def test_distinct_and_entropy_by_hand():
    # "ab ab" -> "abab" (whitespace removed), "abc"
    d = diversity(["ab ab", "abc"])
    assert d["tokenizer"] == "char" and d["texts"] == 2
    assert d["distinct_1"] == pytest.approx(3 / 7)   # a b a b a b c
    assert d["distinct_2"] == pytest.approx(3 / 5)   # ab ba ab | ab bc
    assert d["distinct_3"] == pytest.approx(3 / 3)   # aba bab | abc
    assert d["distinct_4"] == pytest.approx(1 / 1)   # abab
    assert d["entropy_1"] == pytest.approx(-(2 * 3 / 7 * math.log(3 / 7) + 1 / 7 * math.log(1 / 7)))
    assert d["entropy_4"] == 0.0
    assert d["unique_reason_ratio"] == 1.0


def test_chinese_and_mixed_tokens():
    d = diversity(["好用好用", "iPhone15 好用"])
    # chars: 好 用 好 用 | i P h o n e 1 5 好 用  -> 14 unigrams, unique {好,用,i,P,h,o,n,e,1,5} = 10
    assert d["distinct_1"] == pytest.approx(10 / 14)
    # bigrams: 好用 用好 好用 | iP Ph ho on ne e1 15 5好 好用 -> 12, unique 10
    assert d["distinct_2"] == pytest.approx(10 / 12)


def test_matches_a_plain_python_count():
    rng = np.random.default_rng(0)
    chars = list("好用便宜质量不错推荐宝妈学生党纯棉透气abc12 ")
    texts = ["".join(rng.choice(chars, size=rng.integers(0, 30))) for _ in range(300)]
    d = diversity(texts)
    for n in (1, 2, 3, 4):
        grams = [s[i:i + n] for t in texts for s in [t.replace(" ", "")] for i in range(len(s) - n + 1)]
        assert d[f"distinct_{n}"] == pytest.approx(len(set(grams)) / len(grams))
        counts = np.array(list(pd.Series(grams).value_counts()))
        p = counts / counts.sum()
        assert d[f"entropy_{n}"] == pytest.approx(float(-(p * np.log(p)).sum()))


def test_jieba_option_records_tokenizer():
    d = diversity(["宝宝很喜欢", "宝宝很喜欢这个"], tokenizer="jieba")
    assert d["tokenizer"] == "jieba"
    assert d["distinct_1"] < 1.0
    with pytest.raises(ValueError):
        diversity(["x"], tokenizer="bpe")


def test_empty_and_short_inputs():
    d = diversity([])
    assert d["distinct_1"] is None and d["unique_reason_ratio"] is None
    assert diversity(["a"])["distinct_2"] is None


def test_repetition():
    texts = ["很很好用", "超值超值", "宝宝喜欢", "正常句子没有重复", "好用好用好", "10000mAh大容量"]
    r = repetition(texts)
    assert r["repetition_rate"] == pytest.approx(3 / 6)
    # seq-rep-4 of "超值超值超值": 4-grams 超值超值 值超值超 超值超值 -> 1 - 2/3; "超值超值" -> 0
    assert repetition(["超值超值超值"])["seq_rep_4"] == pytest.approx(1 / 3)
    assert repetition(["超值超值超值", "超值超值"])["seq_rep_4"] == pytest.approx((1 / 3 + 0) / 2)


def test_length_stats():
    enc = encode_chars(["一二三四五六七八", "a b", "x" * 40])
    s = length_stats(enc.lengths)
    assert list(enc.lengths) == [8, 2, 40]
    assert s["mean_length"] == pytest.approx(50 / 3)
    assert s["length_buckets"] == {"S": pytest.approx(1 / 3), "M": 0.0, "L": pytest.approx(1 / 3),
                                   "other": pytest.approx(1 / 3)}


def test_personalization_by_hand():
    pairs = pd.DataFrame({
        "item_id": ["A", "A", "B", "B", "C", "C", "D"],
        "segment": ["s1", "s2", "s1", "s2", "s1", "s1", None],
        "text": ["abcd", "abce", "xyz", "xyz", "aaa", "bbb", "qq"],
    })
    # A: {abc,bcd} vs {abc,bce} -> J = 1/3 -> 2/3 ; B: identical -> 0 ; C: one segment only; D: no segment
    out = personalization(pairs, seed="s")
    assert out["personalization_items"] == 2
    assert out["personalization"] == pytest.approx((2 / 3 + 0) / 2)
