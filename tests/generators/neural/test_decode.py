"""Cached compiled decoding vs the full forward pass; determinism per request seed.

All calls share one shape (8 rows, prompts padded to 6, 12 new tokens) and one Decoder, so the
compiled loop is built once per module.
"""

import keras
import numpy as np
import pytest

from generators.neural.decode import (
    PREFILL_SHARE,
    Decoder,
    DecodeSettings,
    NaiveDecoder,
    cached_logits,
    full_logits,
    left_pad,
    prefill_rows,
    shared_prompts,
)
from generators.neural.model import build_model

TOL = 1e-4
B, P, N = 8, 6, 12
GREEDY = DecodeSettings(temperature=1.0, top_k=1, top_p=1.0, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(7)
    model = build_model(dict(vocab_size=40, max_len=32, d_model=32, n_layers=2, n_heads=4))
    # Larger output weights widen the logit gaps, so greedy choices are well separated.
    model.tok.embeddings.assign(model.tok.embeddings * 8.0)
    return model


@pytest.fixture(scope="module")
def decoders(tiny):
    return Decoder(tiny), NaiveDecoder(tiny)


def _prompts(rng):
    return left_pad([list(rng.integers(3, 40, size=int(n))) for n in rng.integers(2, P + 1, size=B)], P)


def test_cached_logits_equal_full_forward_with_left_padding(tiny):
    rng = np.random.default_rng(0)
    prompts = _prompts(rng)
    cont = rng.integers(3, 40, size=(B, 10)).astype(np.int32)
    a, b = cached_logits(tiny, prompts, cont), full_logits(tiny, prompts, cont)
    assert np.abs(a - b).max() < TOL
    # Left padding does not change a row's logits: the same prompt without padding gives the same values.
    n_pad = int((prompts[0] == 0).sum())
    alone = full_logits(tiny, prompts[:1, n_pad:], cont[:1])
    assert np.abs(alone - b[:1]).max() < TOL


def test_greedy_tokens_equal_naive_loop_where_margins_exceed_tolerance(tiny, decoders):
    fast_dec, naive_dec = decoders
    rng = np.random.default_rng(1)
    prompts = _prompts(rng)
    u = rng.random((B, N)).astype(np.float32)
    fast = fast_dec.generate(prompts, u, GREEDY)
    slow = naive_dec.generate(prompts, u, GREEDY)
    logits = full_logits(tiny, prompts, slow)  # the naive path's own logits at every step
    top2 = np.sort(logits, axis=-1)[..., -2:]
    assert (top2[..., 1] - top2[..., 0]).min() > 2 * TOL  # ties within the tolerance would make it moot
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(slow, logits.argmax(-1))


def test_sampling_with_all_features_matches_naive_loop(decoders):
    fast_dec, naive_dec = decoders
    rng = np.random.default_rng(2)
    prompts = _prompts(rng)
    u = rng.random((B, N)).astype(np.float32)
    s = DecodeSettings(temperature=0.9, top_k=8, top_p=0.9, repetition_penalty=1.3)
    fast = fast_dec.generate(prompts, u, s, eos_id=5)
    np.testing.assert_array_equal(fast, naive_dec.generate(prompts, u, s, eos_id=5))
    assert len(np.unique(fast)) > 5  # really sampled, not one repeated token


def test_eos_stops_a_row_and_pads_after(decoders):
    dec = decoders[0]
    rng = np.random.default_rng(3)
    prompts = _prompts(rng)
    u = rng.random((B, N)).astype(np.float32)
    s = DecodeSettings(temperature=1.5, top_k=0, top_p=1.0)
    free = dec.generate(prompts, u, s)
    eos = int(free[0, 2])  # make the third token of row 0 the end token
    out = dec.generate(prompts, u, s, eos_id=eos, pad_id=0)
    first = int(np.argmax(out[0] == eos))
    assert first <= 2 and (out[0, first + 1:] == 0).all()
    np.testing.assert_array_equal(out[0, :first + 1], free[0, :first + 1])


def test_a_row_does_not_depend_on_its_batch_mates(decoders):
    """Same prompt + same uniforms at a fixed padded batch shape -> the same tokens."""
    dec = decoders[0]
    rng = np.random.default_rng(4)
    s = DecodeSettings(temperature=1.0, top_k=0, top_p=0.95, repetition_penalty=1.2)
    target = list(rng.integers(3, 40, size=5))
    u_target = rng.random(N).astype(np.float32)
    outs = []
    for trial in range(3):
        rows = [list(rng.integers(3, 40, size=int(rng.integers(2, P + 1)))) for _ in range(B - 1)]
        rows.insert(trial, target)
        u = rng.random((B, N)).astype(np.float32)
        u[trial] = u_target
        outs.append(dec.generate(left_pad(rows, P), u, s)[trial])
    assert all((o == outs[0]).all() for o in outs)


def test_row_banned_tokens_are_never_generated(decoders):
    fast_dec, naive_dec = decoders
    rng = np.random.default_rng(5)
    prompts = _prompts(rng)
    u = rng.random((B, N)).astype(np.float32)
    s = DecodeSettings(temperature=1.5, top_k=0, top_p=1.0)
    free = fast_dec.generate(prompts, u, s)
    row_banned = np.zeros((B, 40), bool)
    row_banned[np.arange(B), free[:, 0]] = True  # each row loses its own first choice
    row_banned[:, 10:20] = True
    out = fast_dec.generate(prompts, u, s, row_banned=row_banned)
    assert not row_banned[np.arange(B)[:, None], out].any()
    np.testing.assert_array_equal(out, naive_dec.generate(prompts, u, s, row_banned=row_banned))


def test_shared_prompts_cover_every_row_at_a_fixed_prefill_size():
    rng = np.random.default_rng(6)
    distinct = _prompts(rng)[:2]
    rows = np.repeat(distinct, 4, axis=0)[rng.permutation(B)]  # 2 prompts x 4 rows, shuffled
    prompts, source = shared_prompts(rows)
    assert prompts.shape == (B // PREFILL_SHARE, P)
    np.testing.assert_array_equal(prompts[source], rows)
    one = shared_prompts(np.repeat(distinct[:1], B, axis=0))[0]  # fewer distinct prompts: same pre-fill shape
    assert one.shape == prompts.shape
    every = _prompts(rng)  # more distinct prompts than B / PREFILL_SHARE: the rows themselves
    assert len(np.unique(every, axis=0)) > B // PREFILL_SHARE
    same, src = shared_prompts(every)
    np.testing.assert_array_equal(same, every)
    np.testing.assert_array_equal(src, np.arange(B))
    assert prefill_rows(B, B // PREFILL_SHARE + 1) == B and prefill_rows(B, 1) == B // PREFILL_SHARE
    assert prefill_rows(6, 1) == 6  # not a multiple of PREFILL_SHARE: no sharing


def test_rows_sharing_a_prompt_decode_as_if_each_had_its_own(decoders):
    """Candidates of one request (same prompt, own uniforms) share one pre-fill: each row's tokens must
    equal those it gets with its prompt pre-filled on its own (in a batch of distinct prompts)."""
    fast_dec, naive_dec = decoders
    rng = np.random.default_rng(7)
    shared_rows = np.repeat(_prompts(rng)[[2, 7]], 4, axis=0)  # 2 prompts x 4 candidates: one pre-fill each
    u = rng.random((B, N)).astype(np.float32)
    s = DecodeSettings(temperature=1.0, top_k=0, top_p=0.95, repetition_penalty=1.2)
    shared = fast_dec.generate(shared_rows, u, s)
    others, u_others = _prompts(rng)[1:], rng.random((B - 1, N)).astype(np.float32)  # distinct: no sharing
    alone = [fast_dec.generate(np.concatenate([shared_rows[i:i + 1], others]),
                               np.concatenate([u[i:i + 1], u_others]), s)[0] for i in range(B)]
    np.testing.assert_array_equal(shared, np.stack(alone))
    np.testing.assert_array_equal(shared, naive_dec.generate(shared_rows, u, s))
    assert len({tuple(r) for r in shared}) > 2  # the rows of one prompt really sampled apart
