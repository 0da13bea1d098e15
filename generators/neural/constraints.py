"""Compliance-constrained decoding: a token-level automaton over banned and allowlisted terms.

Banned terms are multi-token sequences (广告法 absolute terms such as 最佳, 销量第一). The
automaton is an Aho-Corasick style DFA built on the trie of all banned and allowlisted token
sequences; decoding keeps one state per row and, at each step, masks only the tokens that would
*complete* a violation given the generated suffix. A single token is never banned outright.

Allowlisted compounds take precedence (最近, 第一次, 首页, 一级, 最佳赏味期): an occurrence of a
banned term that lies inside an allowlisted compound still being written is *pending*; while it
is pending only tokens that continue such a compound (and so resolve it) are allowed, which
keeps 最佳赏味期 producible while 最佳 alone is not. A banned single token is only enforced
this way (inside allowlisted compounds); on its own it is left to the post-hoc filter.

Tables are plain numpy: `next_state[S, V]` (int32) and `banned[S, V]` (bool). The decoder
gathers one row per step. Imports only numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Seq = tuple[int, ...]


@dataclass(frozen=True)
class BanAutomaton:
    next_state: np.ndarray  # [S, V] int32
    banned: np.ndarray  # [S, V] bool: token would complete a violation from this state
    n_terms: int  # banned terms actually enforced
    pending: np.ndarray | None = None  # [S] bool: a banned term awaits its allowlisted completion

    @property
    def n_states(self) -> int:
        return int(self.next_state.shape[0])

    def run(self, tokens: Sequence[int], state: int = 0) -> tuple[int, bool]:
        """Walk tokens from `state`; returns (final state, whether any step was banned)."""
        hit = False
        for t in tokens:
            hit = hit or bool(self.banned[state, t])
            state = int(self.next_state[state, t])
        return state, hit


def empty_automaton(vocab_size: int) -> BanAutomaton:
    """One state, nothing banned (the unconstrained decoder uses the same code path)."""
    return BanAutomaton(np.zeros((1, vocab_size), np.int32), np.zeros((1, vocab_size), bool), 0, np.zeros(1, bool))


def padded_tables(automaton: BanAutomaton, min_states: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Tables with the state count rounded up to a power of two (>= min_states), so that
    automatons of similar size share one compiled decoder. Extra states are never reached."""
    s, v = automaton.next_state.shape
    n = max(min_states, 1 << (s - 1).bit_length())
    nxt = np.zeros((n, v), np.int32)
    ban = np.zeros((n, v), bool)
    nxt[:s], ban[:s] = automaton.next_state, automaton.banned
    return nxt, ban


def build_automaton(banned: Sequence[Seq], allowed: Sequence[Seq], vocab_size: int) -> BanAutomaton:
    """The DFA for banned token sequences with allowlisted compounds taking precedence."""
    allowed = sorted({tuple(a) for a in allowed if len(a) > 0})
    terms = []
    for b in {tuple(b) for b in banned}:
        if len(b) >= 2 or (len(b) == 1 and any(b[0] in a for a in allowed)):
            terms.append(b)
    terms.sort()
    prefixes = {p[:i] for p in (*terms, *allowed) for i in range(len(p) + 1)}
    alphabet = sorted({t for p in (*terms, *allowed) for t in p})

    def node_of(t: Seq) -> Seq:
        for i in range(len(t) + 1):
            if t[i:] in prefixes:
                return t[i:]
        return ()

    def covered(t: Seq, i: int, j: int) -> bool:
        return any(p + len(a) >= j and p + len(a) <= len(t) and t[p:p + len(a)] == a
                   for a in allowed for p in range(i + 1))

    def coverable(t: Seq, i: int) -> bool:
        return any(len(a) > len(t) - p and a[:len(t) - p] == t[p:] for a in allowed for p in range(i + 1))

    def step(state: tuple[Seq, frozenset], c: int) -> tuple[Seq, frozenset] | None:
        s, pend = state
        t = s + (c,)
        occ = set(pend) | {(len(t) - len(b), len(t)) for b in terms if t[len(t) - len(b):] == b}
        still = []
        for i, j in occ:
            if covered(t, i, j):
                continue
            if not coverable(t, i):
                return None  # violation: mask c
            still.append((i, j))
        node = node_of(t)
        shift = len(t) - len(node)
        return node, frozenset((i - shift, j - shift) for i, j in still)

    root: tuple[Seq, frozenset] = ((), frozenset())
    index = {root: 0}
    order = [root]
    rows: list[dict[int, int]] = []  # per state: token -> next state (-1 = banned)
    k = 0
    while k < len(order):
        state = order[k]
        row: dict[int, int] = {}
        for c in alphabet:
            nxt = step(state, c)
            if nxt is None:
                row[c] = -1
                continue
            if nxt not in index:
                index[nxt] = len(order)
                order.append(nxt)
            row[c] = index[nxt]
        rows.append(row)
        k += 1

    n = len(order)
    next_state = np.zeros((n, vocab_size), np.int32)
    banned_tbl = np.zeros((n, vocab_size), bool)
    for sid, (state, row) in enumerate(zip(order, rows, strict=True)):
        banned_tbl[sid, :] = bool(state[1])  # pending: any token outside the patterns breaks it
        for c, target in row.items():
            banned_tbl[sid, c] = target < 0
            next_state[sid, c] = max(target, 0)
    pending = np.array([bool(state[1]) for state in order])
    return BanAutomaton(next_state, banned_tbl, len(terms), pending)
