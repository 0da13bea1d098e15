"""Compliance-constrained decoding: a token trie / automaton over banned and allowlisted terms."""

import numpy as np
import pytest

from generators.neural.constraints import build_automaton
from generators.neural.decode import Decoder, DecodeSettings, full_logits, left_pad
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
    """A tiny model whose weights come from numpy, so TensorFlow and JAX decode the same text
    (Keras' seeded initializers draw different numbers on each backend)."""
    model = build_model(dict(vocab_size=V, max_len=32, d_model=32, n_layers=2, n_heads=4))
    rng = np.random.default_rng(11)
    values = []
    for w in model.weights:
        if w.path.endswith("gamma"):
            values.append(np.ones(w.shape, np.float32))
        elif w.path.endswith(("beta", "bias")):
            values.append(np.zeros(w.shape, np.float32))
        else:  # large weights: varied greedy text with well separated choices
            values.append(rng.normal(0.0, 0.3 if "tok" in w.path else 0.5, w.shape).astype(np.float32))
    model.set_weights(values)
    return model


@pytest.fixture(scope="module")
def tiny_decoder(tiny):
    return Decoder(tiny)


def _contains(row, term):
    row = list(row)
    return any(tuple(row[i:i + len(term)]) == tuple(term) for i in range(len(row) - len(term) + 1))


GREEDY = DecodeSettings(temperature=1.0, top_k=1, top_p=1.0)


def _prompts_and_uniforms():
    rng = np.random.default_rng(5)
    prompts = left_pad([list(rng.integers(3, V, size=4)) for _ in range(8)], 4)
    return prompts, rng.random((8, 16)).astype(np.float32), rng


def _reference_constrained_greedy(model, prompts, automaton, n_new):
    """Greedy decoding the slow, obvious way: a full forward pass over prompt + text so far at every step,
    the automaton's banned tokens of each row's state set to -inf, argmax. Also the smallest gap between
    the best and second-best allowed logit, so a test can tell a real disagreement from a tie."""
    b = prompts.shape[0]
    out = np.zeros((b, 0), np.int32)
    state = np.zeros(b, np.int32)
    gap = np.inf
    for _ in range(n_new):
        logits = full_logits(model, prompts, np.concatenate([out, np.zeros((b, 1), np.int32)], axis=1))[:, -1]
        logits = np.where(automaton.banned[state], -np.inf, logits)
        top2 = np.sort(logits, axis=-1)[:, -2:]
        gap = min(gap, float((top2[:, 1] - top2[:, 0]).min()))
        tok = logits.argmax(-1).astype(np.int32)
        out = np.concatenate([out, tok[:, None]], axis=1)
        state = automaton.next_state[state, tok]
    return out, gap


def _clean_allowlisted_bigram(free):
    """(term, next token) with term a bigram of row 0 whose every occurrence is followed by the same token,
    so banning term and allowlisting term + next leaves row 0 a clean text."""
    row = [int(t) for t in free[0]]
    for i in range(len(row) - 2):
        term, nxt = tuple(row[i:i + 2]), row[i + 2]
        if term[0] != term[1] and all(row[j + 2] == nxt for j in range(len(row) - 2) if tuple(row[j:j + 2]) == term) \
                and tuple(row[-2:]) != term:
            return term, nxt
    raise AssertionError(f"no usable bigram in {row}")


def test_decoder_never_emits_banned_and_still_emits_allowlisted(tiny_decoder):
    prompts, u, rng = _prompts_and_uniforms()
    dec = tiny_decoder
    free = dec.generate(prompts, u, GREEDY)
    term, nxt = _clean_allowlisted_bigram(free)  # a bigram the model wants to write, always before nxt
    banned_only = build_automaton([term], [], V)
    out = dec.generate(prompts, u, GREEDY, automaton=banned_only)
    assert not any(_contains(r, term) for r in out)
    assert (out[0] != free[0]).any()
    # Allowlisting term + the model's own next token keeps the unconstrained text unchanged: that text
    # never writes term without nxt after it (the premise, checked), so no step of it is masked.
    keep = build_automaton([term], [term + (nxt,)], V)
    assert not keep.run(free[0].tolist())[1]
    np.testing.assert_array_equal(dec.generate(prompts, u, GREEDY, automaton=keep)[0], free[0])
    # Allowlisting term + another token forces that continuation after the term.
    other = (nxt + 1) % V or 1
    forced = dec.generate(prompts, u, GREEDY, automaton=build_automaton([term], [term + (other,)], V))
    assert _contains(forced[0], term + (other,)) and not _contains(forced[0], term + (nxt,))
    # Sampling too: banned never appears in many random continuations.
    s = DecodeSettings(temperature=1.5, top_k=0, top_p=1.0)
    many = dec.generate(np.repeat(prompts, 4, axis=0), rng.random((32, 16)).astype(np.float32), s,
                        automaton=banned_only)
    assert not any(_contains(r, term) for r in many)


def test_constrained_greedy_equals_masked_argmax_of_the_full_forward(tiny, tiny_decoder):
    """The compiled constrained loop against a slow reference on every row, with terms taken from the model's
    own text (so constraints really bite) and an allowlisted compound over a banned term: a wrong state
    update, a mask read from the wrong row or a backend-specific gather in the loop shows up as a token
    difference. Ties could make a difference moot: the reference's smallest top-2 gap is checked."""
    prompts, u, _ = _prompts_and_uniforms()
    free = tiny_decoder.generate(prompts, u, GREEDY)
    bigrams = [tuple(int(t) for t in free[r, i:i + 2]) for r in range(8) for i in (1, 6)]
    allowed = [bigrams[0] + (int(free[0, 3]),), bigrams[2] + ((int(free[1, 3]) + 1) % V,)]
    automaton = build_automaton(bigrams, allowed, V)
    out = tiny_decoder.generate(prompts, u, GREEDY, automaton=automaton)
    ref, gap = _reference_constrained_greedy(tiny, prompts, automaton, u.shape[1])
    assert gap > 2e-4  # cached and full-forward logits agree to 1e-4 (test_decode)
    assert (out != free).sum() > 8  # the constraints changed the text
    np.testing.assert_array_equal(out, ref)
    for row in out:
        assert not automaton.run(row.tolist())[1]


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
