"""Compliance-constrained decoding: a token trie / automaton over banned and allowlisted terms."""

import keras
import numpy as np
import pytest

from generators.neural.constraints import build_automaton
from generators.neural.decode import Decoder, DecodeSettings, left_pad
from generators.neural.model import build_model

V = 40


def _walk(automaton, seq):
    return automaton.run(seq)[1]


def test_banned_terms_masked_only_at_their_last_token():
    a = build_automaton([(1, 2), (3, 4, 5)], [], V)
    assert _walk(a, [1, 2]) and _walk(a, [9, 3, 4, 5]) and _walk(a, [3, 4, 3, 4, 5])
    assert not _walk(a, [1]) and not _walk(a, [3, 4]) and not _walk(a, [2, 1, 3, 4, 6, 5])
    # No single token is banned from the start state.
    assert not a.banned[0].any()


def test_allowlisted_compounds_take_precedence():
    # banned: 最 (single token 1) and 第一 (2, 3); allowed: 最近 (1, 4), 第一次 (2, 3, 5), 最佳赏味期 (1, 6, 7, 8, 9).
    a = build_automaton([(1,), (2, 3), (1, 6)], [(1, 4), (2, 3, 5), (1, 6, 7, 8, 9)], V)
    for ok in ([1, 4], [2, 3, 5], [1, 6, 7, 8, 9], [9, 1, 4, 2, 3, 5, 1, 4]):
        assert not _walk(a, ok), ok
    for bad in ([1, 10], [2, 3, 10], [1, 6, 10], [1, 6, 7, 10], [1, 4, 1, 11]):
        assert _walk(a, bad), bad
    # While a banned term is pending inside an allowed compound, only its continuation is allowed.
    state, _ = a.run([2, 3])
    assert np.flatnonzero(~a.banned[state]).tolist() == [5]
    # A single banned token with no allowlisted compound containing it is not enforced at all.
    assert not _walk(build_automaton([(7,)], [], V), [7])


def test_walks_agree_with_brute_force_checker():
    rng = np.random.default_rng(0)
    banned = [(1, 2), (2, 3, 4), (5,), (6, 6)]
    allowed = [(5, 1), (1, 2, 3), (0, 6, 6)]
    a = build_automaton(banned, allowed, 8)

    def violates(seq):  # a banned occurrence not inside an occurrence of an allowed compound
        s = tuple(seq)
        occ = lambda terms: [(i, i + len(t)) for t in terms for i in range(len(s) - len(t) + 1) if s[i:i + len(t)] == t]  # noqa: E731
        allows = occ(allowed)
        return any(not any(p <= i and j <= q for p, q in allows) for i, j in occ(banned))

    for _ in range(3000):
        seq = [int(t) for t in rng.integers(0, 8, size=int(rng.integers(1, 9)))]
        state, hit = 0, None
        for k, t in enumerate(seq):
            if a.banned[state, t]:
                hit = k
                break
            state = int(a.next_state[state, t])
        if hit is not None:  # masked exactly when that token makes a violation certain
            assert violates(seq[:hit + 1]), seq
            assert not violates(seq[:hit]) or a.pending[a.run(seq[:hit])[0]], seq
        else:  # an unmasked walk is clean, or has a banned term awaiting its allowlisted completion
            assert violates(seq) == bool(a.pending[state]), seq


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(11)
    model = build_model(dict(vocab_size=V, max_len=32, d_model=32, n_layers=2, n_heads=4))
    model.tok.embeddings.assign(model.tok.embeddings * 8.0)
    return model


def _contains(row, term):
    row = list(row)
    return any(tuple(row[i:i + len(term)]) == tuple(term) for i in range(len(row) - len(term) + 1))


def test_decoder_never_emits_banned_and_still_emits_allowlisted(tiny):
    rng = np.random.default_rng(5)
    prompts = left_pad([list(rng.integers(3, V, size=4)) for _ in range(8)], 4)
    u = rng.random((8, 16)).astype(np.float32)
    greedy = DecodeSettings(temperature=1.0, top_k=1, top_p=1.0)
    dec = Decoder(tiny)
    free = dec.generate(prompts, u, greedy)
    term = tuple(int(t) for t in free[0, 3:5])  # a bigram the model wants to write
    nxt = int(free[0, 5])
    banned_only = build_automaton([term], [], V)
    out = dec.generate(prompts, u, greedy, automaton=banned_only)
    assert not any(_contains(r, term) for r in out)
    assert (out != free).any()
    # Allowlisting term + the model's own next token keeps the unconstrained text unchanged.
    keep = build_automaton([term], [term + (nxt,)], V)
    np.testing.assert_array_equal(dec.generate(prompts, u, greedy, automaton=keep)[0], free[0])
    # Allowlisting term + another token forces that continuation after the term.
    other = (nxt + 1) % V or 1
    forced = dec.generate(prompts, u, greedy, automaton=build_automaton([term], [term + (other,)], V))
    assert _contains(forced[0], term + (other,)) and not _contains(forced[0], term + (nxt,))
    # Sampling too: banned never appears in many random continuations.
    s = DecodeSettings(temperature=1.5, top_k=0, top_p=1.0)
    many = dec.generate(np.repeat(prompts, 4, axis=0), rng.random((32, 16)).astype(np.float32), s,
                        automaton=banned_only)
    assert not any(_contains(r, term) for r in many)


def test_real_ad_law_lists():
    """最佳 / 销量第一 / bare 最 are blocked; 最近, 第一次, 首页, 一级, 最佳赏味期 stay writable."""
    from generators.neural.generator import ban_lists
    from generators.neural.tokenizer import CharTokenizer

    banned, allowed = ban_lists()
    tok = CharTokenizer(set("".join(banned + allowed) + "上新用推荐面料内二件半价选择划算美"), [], [], [])
    enc = lambda terms: [tuple(tok.encode_text(t)) for t in terms if tok.covers(t)]  # noqa: E731
    a = build_automaton(enc(banned), enc(allowed), tok.vocab_size)
    walk = lambda text: a.run(tok.encode_text(text))  # noqa: E731
    for ok in ["最近上新", "第一次用", "首页推荐", "一级面料", "最佳赏味期内", "第二件半价"]:
        assert not walk(ok)[1], ok
    for bad in ["最佳选择", "销量第一", "最好用", "全网最低价", "绝对划算", "最美"]:
        assert walk(bad)[1], bad
    assert not a.banned[0, tok.index["最"]] and not a.banned[0, tok.index["第"]]  # no single char is banned
