"""Sampler: top-k / top-p / temperature / repetition penalty against a numpy reference."""

import numpy as np
from keras import ops

from generators.neural.sampler import Sampler, apply_repetition_penalty, filter_candidates


def _reference_probs(logits, temperature, top_k, top_p):
    """Plain numpy: sort, temperature softmax, keep top-k, keep the smallest prefix with mass >= top_p."""
    order = np.argsort(-logits, kind="stable")
    z = logits[order] / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    keep = np.ones_like(p, bool)
    if top_k > 0:
        keep[top_k:] = False
    before = np.cumsum(p) - p
    keep &= (before < top_p) | (np.arange(len(p)) == 0)
    q = np.where(keep, p, 0.0)
    out = np.zeros_like(logits)
    out[order] = q / q.sum()
    return out


def test_filter_candidates_matches_reference():
    rng = np.random.default_rng(0)
    for temperature, top_k, top_p in [(1.0, 0, 1.0), (0.7, 3, 1.0), (1.3, 0, 0.6), (0.9, 5, 0.8)]:
        logits = rng.normal(size=(4, 12)).astype(np.float32) * 2
        values = -np.sort(-logits, axis=1)
        got = ops.convert_to_numpy(filter_candidates(values, np.float32(temperature), np.int32(top_k),
                                                     np.float32(top_p)))
        for row in range(4):
            want = _reference_probs(logits[row], temperature, top_k, top_p)
            np.testing.assert_allclose(got[row], np.sort(want)[::-1], atol=1e-6)
            if top_k:
                assert (got[row] > 0).sum() <= top_k


def test_sampled_frequencies_follow_nucleus_distribution():
    logits = np.log(np.array([[0.5, 0.2, 0.15, 0.1, 0.05]], np.float32))
    n = 20000
    u = ((np.arange(n) + 0.5) / n).astype(np.float32)  # stratified uniforms: exact frequencies
    big = np.repeat(logits, n, axis=0)
    zeros = np.zeros_like(big)
    tok = ops.convert_to_numpy(Sampler(candidate_cap=5)(big, u, temperature=np.float32(1.0), top_k=np.int32(0),
                                                        top_p=np.float32(0.8), repetition_penalty=np.float32(1.0),
                                                        seen=zeros, banned=zeros > 0))
    freq = np.bincount(tok, minlength=5) / n
    # 0.5 + 0.2 < 0.8, so the nucleus is {0, 1, 2}: probabilities 0.5/0.85, 0.2/0.85, 0.15/0.85.
    np.testing.assert_allclose(freq, [0.5 / 0.85, 0.2 / 0.85, 0.15 / 0.85, 0, 0], atol=2e-3)


def test_top_k_one_is_greedy_and_banned_tokens_never_drawn():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(64, 30)).astype(np.float32)
    u = rng.random(64).astype(np.float32)
    zeros = np.zeros_like(logits)
    sampler = Sampler(candidate_cap=8)
    greedy = ops.convert_to_numpy(sampler(logits, u, temperature=np.float32(1.0), top_k=np.int32(1),
                                          top_p=np.float32(1.0), repetition_penalty=np.float32(1.0), seen=zeros,
                                          banned=zeros > 0))
    np.testing.assert_array_equal(greedy, logits.argmax(axis=1))
    banned = np.zeros_like(logits, bool)
    banned[np.arange(64), logits.argmax(axis=1)] = True
    tok = ops.convert_to_numpy(sampler(logits, u, temperature=np.float32(1.0), top_k=np.int32(1),
                                       top_p=np.float32(1.0), repetition_penalty=np.float32(1.0), seen=zeros,
                                       banned=banned))
    np.testing.assert_array_equal(tok, np.argsort(-logits, axis=1)[:, 1])


def test_repetition_penalty_ctrl_rule():
    logits = np.array([[2.0, -1.0, 3.0]], np.float32)
    seen = np.array([[1.0, 1.0, 0.0]], np.float32)
    got = ops.convert_to_numpy(apply_repetition_penalty(logits, seen, np.float32(2.0)))
    np.testing.assert_allclose(got, [[1.0, -2.0, 3.0]])
