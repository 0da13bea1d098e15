"""Self-BLEU against nltk (SmoothingFunction.method2) and sacrebleu (add-k, k=1), computed here."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from abkit.text import selfbleu
from abkit.text.selfbleu import seeded_sample, self_bleu, sentence_bleus


def _texts(seed: int, n: int, lo: int = 1, hi: int = 20) -> list[str]:
    rng = random.Random(seed)
    chars = "好用便宜质量不错推荐宝妈学生党纯棉透气"
    return ["".join(rng.choice(chars) for _ in range(rng.randint(lo, hi))) for _ in range(n)]


def test_sentence_bleu_equals_nltk_method2():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    texts = _texts(1, 40) + ["a", "ab", "好用", "好用", "iPhone15好用"]
    ours = sentence_bleus(texts)
    smooth = SmoothingFunction().method2
    ref = [sentence_bleu([list(t) for j, t in enumerate(texts) if j != i], list(h),
                         weights=(0.25, 0.25, 0.25, 0.25), smoothing_function=smooth) for i, h in enumerate(texts)]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_sentence_bleu_equals_sacrebleu_add_one():
    from sacrebleu.metrics import BLEU

    bleu = BLEU(tokenize="char", smooth_method="add-k", smooth_value=1, effective_order=True)
    texts = _texts(2, 25, lo=5)
    ours = sentence_bleus(texts)
    ref = [bleu.sentence_score(h, [t for j, t in enumerate(texts) if j != i]).score / 100
           for i, h in enumerate(texts)]
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_self_bleu_is_mean_and_order_free():
    texts = _texts(3, 60)
    uniq = sorted(set(texts))
    assert self_bleu(texts, seed="k") == pytest.approx(float(np.mean(sentence_bleus(uniq))))
    assert self_bleu(list(reversed(texts)), seed="k") == self_bleu(texts, seed="k")
    assert self_bleu(["only one"], seed="k") is None
    same = self_bleu(["好用不贵"] * 3 + ["好用不贵呀"], seed="k")
    assert 0 < same < 1


def test_seeded_sample_of_500():
    texts = _texts(4, 2000, lo=8, hi=30)
    a = seeded_sample(texts, 500, "reason_gen_v1", "self_bleu")
    assert len(a) == 500 and a == seeded_sample(list(reversed(texts)), 500, "reason_gen_v1", "self_bleu")
    assert a != seeded_sample(texts, 500, "other_key", "self_bleu")


def test_fast_and_cached():
    texts = _texts(5, 3000, lo=15, hi=40)
    selfbleu._CACHE.clear()
    t0 = time.perf_counter()
    v = self_bleu(texts, seed="speed")
    first = time.perf_counter() - t0
    assert first < 5.0  # 500 texts; nltk takes ~15 s
    t0 = time.perf_counter()
    assert self_bleu(texts, seed="speed") == v
    assert time.perf_counter() - t0 < first
    assert len(selfbleu._CACHE) == 1
