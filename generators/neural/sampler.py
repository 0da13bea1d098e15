"""Next-token selection, separate from the model (as in keras-hub): Keras ops only.

Order of operations on a step's logits [B, V]:
  1. repetition penalty (CTRL, Keskar et al. 2019) on tokens already generated in the reason
     (not on the prompt, whose attribute values the model is meant to copy);
  2. banned-token mask from the compliance automaton (see constraints.py);
  3. the `candidate_cap` best tokens (one top_k), temperature, top-k, top-p (nucleus);
  4. an inverse-CDF draw with the request's own uniform number for this step.

The uniforms come from the caller (one row per request, drawn from the request's seed), so a
request's text never depends on the other rows of its batch or on a global random state.
Top-p is computed within the `candidate_cap` best tokens (like keras-hub's TopPSampler `k`);
for a trained character model the mass outside the best 64 is negligible.
"""

from __future__ import annotations

from typing import Any

from keras import ops

NEG_INF = -1e9


def apply_repetition_penalty(logits: Any, seen: Any, penalty: Any) -> Any:
    """Divide positive / multiply negative logits of seen tokens by `penalty` (>= 1)."""
    penalized = ops.where(logits > 0, logits / penalty, logits * penalty)
    return ops.where(seen > 0, penalized, logits)


def apply_ban_mask(logits: Any, banned: Any) -> Any:
    """Set banned token logits [B, V] (bool) to a large negative number."""
    return ops.where(banned, NEG_INF, logits)


def filter_candidates(values: Any, temperature: Any, top_k: Any, top_p: Any) -> Any:
    """Probabilities over sorted candidate logits [B, K] after temperature, top-k and top-p.

    top_k <= 0 means off (keep all K); top_p >= 1 means off. The best candidate is always kept.
    Returns renormalized probabilities [B, K].
    """
    k = ops.shape(values)[-1]
    probs = ops.softmax(values / temperature, axis=-1)
    rank = ops.arange(k, dtype="int32")[None, :]
    keep_k = ops.logical_or(top_k <= 0, rank < top_k)
    before = ops.cumsum(probs, axis=-1) - probs  # mass of strictly better candidates
    keep_p = ops.logical_or(before < top_p, rank == 0)
    alive = values > NEG_INF / 2
    keep = ops.logical_and(ops.logical_and(keep_k, keep_p), ops.logical_or(alive, rank == 0))
    probs = ops.where(keep, probs, 0.0)
    return probs / ops.sum(probs, axis=-1, keepdims=True)


def inverse_cdf(probs: Any, u: Any) -> Any:
    """Index [B] of the candidate whose CDF interval holds u [B] (u in [0, 1))."""
    cdf = ops.cumsum(probs, axis=-1)
    idx = ops.sum(ops.cast(cdf <= u[:, None], "int32"), axis=-1)
    last_alive = ops.sum(ops.cast(probs > 0, "int32"), axis=-1) - 1  # guards round-off at the top
    return ops.minimum(idx, last_alive)


class Sampler:
    """Temperature / top-k / top-p / repetition-penalty sampler with an external uniform per row."""

    def __init__(self, candidate_cap: int = 64) -> None:
        self.candidate_cap = candidate_cap

    def __call__(self, logits: Any, u: Any, *, temperature: Any, top_k: Any, top_p: Any,
                 repetition_penalty: Any, seen: Any, banned: Any) -> Any:
        """Token ids [B] (int32) for logits [B, V]."""
        logits = apply_repetition_penalty(logits, seen, repetition_penalty)
        logits = apply_ban_mask(logits, banned)
        cap = min(self.candidate_cap, int(logits.shape[-1]))
        values, indices = ops.top_k(logits, cap, sorted=True)
        probs = filter_candidates(values, temperature, top_k, top_p)
        pick = inverse_cdf(probs, u)
        token = ops.take_along_axis(indices, pick[:, None], axis=-1)[:, 0]
        return ops.cast(token, "int32")
