"""A short training run on a small real corpus lowers the held-out loss; checkpoint and artifact round trip."""

import numpy as np
import pytest

from generators.neural.artifact import load_artifact, save_artifact
from generators.neural.data import build_tokenizer, encode_corpus
from generators.neural.model import build_model
from generators.neural.recipe import build_world
from generators.neural.train import BucketBatches, TrainConfig, make_arrays, masked_nll, train_model


@pytest.fixture(scope="module")
def small_world():
    items, corpus = build_world(40, seed=3, holdout_templates=0.2)
    tok = build_tokenizer(corpus["text"].tolist(), items)
    seqs = encode_corpus(tok, corpus, items)
    return tok, seqs


def test_loss_weights_cover_reason_and_eos_only(small_world):
    tok, seqs = small_world
    x, y, w = make_arrays(seqs.tokens[:3], seqs.prompt_len[:3], 160)
    for i in range(3):
        s, p = seqs.tokens[i], seqs.prompt_len[i]
        assert w[i].sum() == len(s) - p  # reason chars + <eos>
        assert y[i, p - 1] == s[p] and tok.decode(y[i][w[i] > 0]) == tok.decode(s[p:])


def test_bucketed_batches_are_deterministic(small_world):
    _, seqs = small_world
    mk = lambda: BucketBatches(seqs.tokens, seqs.prompt_len, batch_size=8, buckets=[96, 128, 160],  # noqa: E731
                               batches_per_epoch=5, seed=1)
    a, b = mk(), mk()
    for i in range(5):
        for u, v in zip(a[i], b[i], strict=True):
            np.testing.assert_array_equal(u, v)
    assert {a[i][0].shape[1] for i in range(5)} <= {96, 128, 160}


@pytest.mark.slow
def test_short_training_lowers_heldout_loss(small_world, tmp_path):
    tok, seqs = small_world
    held = (seqs.rows["split"] == "heldout").to_numpy()
    pick = lambda m: ([seqs.tokens[i] for i in np.flatnonzero(m)], seqs.prompt_len[m])  # noqa: E731
    cfg = TrainConfig(d_model=32, n_layers=1, n_heads=2, batch_size=16, steps=40, eval_every=20,
                      learning_rate=3e-3, warmup_steps=5, buckets=[96, 128, 160], val_sequences=64, seed=0)
    before, _ = masked_nll(build_model(cfg.model_config(tok.vocab_size)), *pick(held))
    model, record = train_model(pick(~held), pick(held), tok.vocab_size, cfg, tmp_path, verbose=0)
    after, n = masked_nll(model, *pick(held))
    assert n > 100 and after < before - 0.5, (before, after)  # ln(V) ~ 6.7 at init
    assert record["history"]["val_nll"][-1] < record["history"]["val_nll"][0] + 1e-6
    save_artifact(tmp_path / "m", model, tok, {"model_version": "test"})
    back, tok2, meta = load_artifact(tmp_path / "m")
    assert tok2.tokens == tok.tokens and meta["model_version"] == "test"
    assert abs(masked_nll(back, *pick(held))[0] - after) < 1e-5
