"""Batched, KV-cached, XLA-compiled incremental decoding (and the naive loop it is compared to).

`Decoder.generate` compiles one function per (batch, prompt length, new tokens) shape: the
prompt (left-padded to a fixed length so all rows decode in lockstep) is pre-filled into the
per-layer caches — once per distinct prompt when rows repeat prompts (a generator's candidates of
one request share theirs; see `prefill_rows`), each row then continuing from its prompt's cache —
then a `keras.ops.while_loop` feeds one token per step through `model.call_with_cache`, applies
the sampler (repetition penalty, banned-term automaton, temperature, top-k, top-p) and stops when every row has emitted EOS. The whole loop is one
compiled program (tf.function(jit_compile=True) on TensorFlow, jax.jit on JAX).

Imports nothing beyond keras and numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from keras import ops

from generators.neural import backend
from generators.neural.constraints import BanAutomaton, empty_automaton, padded_tables
from generators.neural.model import ReasonLM
from generators.neural.sampler import Sampler


@dataclass(frozen=True)
class DecodeSettings:
    temperature: float = 0.8
    top_k: int = 0  # 0 = off
    top_p: float = 0.95  # 1 = off
    repetition_penalty: float = 1.0  # 1 = off


def left_pad(prompts: Sequence[Sequence[int]], length: int, pad_id: int = 0) -> np.ndarray:
    """Right-align token lists in a [B, length] int32 array (left padding)."""
    out = np.full((len(prompts), length), pad_id, np.int32)
    for i, p in enumerate(prompts):
        if len(p) > length:
            raise ValueError(f"prompt of {len(p)} tokens exceeds the padded length {length}")
        if len(p) < 2:
            raise ValueError("a prompt needs at least two tokens")
        out[i, length - len(p):] = p
    return out


def prompt_layout(prompt_ids: np.ndarray, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n_pad [B], positions [B, P]) for left-padded prompts."""
    real = prompt_ids != pad_id
    n_pad = np.argmax(real, axis=1).astype(np.int32)
    positions = np.maximum(np.arange(prompt_ids.shape[1])[None, :] - n_pad[:, None], 0).astype(np.int32)
    return n_pad, positions


PREFILL_SHARE = 4  # rows per distinct prompt the shared pre-fill is sized for (the generator's 4 candidates)


def prefill_rows(batch: int, distinct: int) -> int:
    """Rows of the pre-fill for a batch with `distinct` different prompts: batch / PREFILL_SHARE when
    they fit (one compiled shape per batch size, whatever the batch's content), else the batch."""
    shared = batch // PREFILL_SHARE
    return shared if batch % PREFILL_SHARE == 0 and 0 < distinct <= shared else batch


def shared_prompts(prompt_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prompts [U, P], source [B]): the distinct prompts padded to `prefill_rows` rows (repeating the
    first) and, per row, the index of its prompt; prompt_ids == prompts[source]."""
    distinct, source = np.unique(prompt_ids, axis=0, return_inverse=True)
    u = prefill_rows(len(prompt_ids), len(distinct))
    if u == len(prompt_ids):  # nothing to share: the rows themselves
        return prompt_ids, np.arange(len(prompt_ids), dtype=np.int32)
    padded = np.concatenate([distinct, np.repeat(distinct[:1], u - len(distinct), axis=0)])
    return padded, source.reshape(-1).astype(np.int32)


def _settings_tensors(s: DecodeSettings, eos_id: int, pad_id: int) -> list[Any]:
    return [ops.convert_to_tensor(np.float32(s.temperature)), ops.convert_to_tensor(np.int32(s.top_k)),
            ops.convert_to_tensor(np.float32(s.top_p)), ops.convert_to_tensor(np.float32(s.repetition_penalty)),
            ops.convert_to_tensor(np.int32(eos_id)), ops.convert_to_tensor(np.int32(pad_id))]


class Decoder:
    """Cached compiled generation for one `ReasonLM`."""

    def __init__(self, model: ReasonLM, sampler: Sampler | None = None) -> None:
        self.model = model
        self.sampler = sampler or Sampler()
        self._compiled = backend.jit(self._generate, model.variables)

    # The traced program ------------------------------------------------------------------
    def _generate(self, prompt: Any, source: Any, n_pad: Any, positions: Any, uniforms: Any, next_state: Any,
                  banned: Any, row_banned: Any, temperature: Any, top_k: Any, top_p: Any, rep: Any, eos_id: Any,
                  pad_id: Any) -> Any:
        """prompt/n_pad/positions: the U distinct prompts; source [B]: each row's prompt."""
        model = self.model
        u, p = prompt.shape[0], prompt.shape[1]
        b, n_new = uniforms.shape[0], uniforms.shape[1]
        vocab = model.vocab_size
        total = p + n_new
        prompt_valid = ops.arange(p, dtype="int32")[None, :] >= n_pad[:, None]
        cache = model.empty_cache(u, total)
        if p > 1:  # pre-fill all but the last prompt token (no logits needed), once per distinct prompt
            _, _, cache = model.call_with_cache(
                prompt[:, :-1], positions[:, :-1], ops.concatenate([prompt_valid, ops.ones((u, n_new), "bool")], 1),
                cache, 0, compute_logits=False)
        if u != b:  # every row continues from its prompt's cache
            cache = tuple(ops.take(c, source, axis=0) for c in cache)
            prompt, n_pad, prompt_valid = (ops.take(x, source, axis=0) for x in (prompt, n_pad, prompt_valid))
        key_valid = ops.concatenate([prompt_valid, ops.ones((b, n_new), dtype="bool")], axis=1)
        next_flat = ops.reshape(next_state, (-1,))

        def cond(step: Any, tok: Any, out: Any, seen: Any, state: Any, done: Any, *cache: Any) -> Any:
            return ops.logical_and(step < n_new, ops.logical_not(ops.all(done)))

        def body(step: Any, tok: Any, out: Any, seen: Any, state: Any, done: Any, *cache: Any) -> Any:
            index = p - 1 + step
            pos = (index - n_pad)[:, None]
            logits, _, cache = model.call_with_cache(tok[:, None], pos, key_valid, cache, index)
            u = ops.slice(uniforms, (0, step), (b, 1))[:, 0]
            new = self.sampler(logits[:, 0, :], u, temperature=temperature, top_k=top_k, top_p=top_p,
                               repetition_penalty=rep, seen=seen,
                               banned=ops.logical_or(ops.take(banned, state, axis=0), row_banned))
            new = ops.where(done, pad_id, new)
            out = ops.slice_update(out, (0, step), new[:, None])
            seen = ops.maximum(seen, ops.one_hot(new, vocab, dtype="float32"))
            state = ops.cast(ops.take(next_flat, state * vocab + new), "int32")
            done = ops.logical_or(done, new == eos_id)
            return (step + 1, new, out, seen, state, done, *cache)

        init = (ops.convert_to_tensor(0, "int32"), prompt[:, -1], ops.zeros((b, n_new), dtype="int32"),
                ops.zeros((b, vocab), dtype="float32"), ops.zeros((b,), dtype="int32"),
                ops.zeros((b,), dtype="bool"), *cache)
        # The prompt may already contain text the automaton must know about: none by design
        # (prompts are control tokens + attribute values), so decoding starts at the root state.
        result = ops.while_loop(cond, body, init)
        return result[2]

    # Public API ------------------------------------------------------------------------------
    def generate(self, prompt_ids: np.ndarray, uniforms: np.ndarray, settings: DecodeSettings, *,
                 eos_id: int = -1, pad_id: int = 0, automaton: BanAutomaton | None = None,
                 row_banned: np.ndarray | None = None) -> np.ndarray:
        """New tokens [B, N] for left-padded prompts [B, P] and per-row uniforms [B, N] in [0, 1).

        Rows that emitted `eos_id` are padded with `pad_id` afterwards; `eos_id=-1` never stops.
        `row_banned` [B, V] (bool): tokens a row may never produce (e.g. slots of facts its item
        lacks); the automaton masks banned terms on top.
        """
        prompt_ids = np.asarray(prompt_ids, np.int32)
        uniforms = np.asarray(uniforms, np.float32)
        if prompt_ids.shape[0] != uniforms.shape[0]:
            raise ValueError("prompt_ids and uniforms need the same batch size")
        automaton = automaton or empty_automaton(self.model.vocab_size)
        if row_banned is None:
            row_banned = np.zeros((prompt_ids.shape[0], self.model.vocab_size), bool)
        prompts, source = shared_prompts(prompt_ids)
        n_pad, positions = prompt_layout(prompts, pad_id)
        args = [ops.convert_to_tensor(x) for x in (prompts, source, n_pad, positions, uniforms,
                                                    *padded_tables(automaton), np.asarray(row_banned, bool))]
        out = self._compiled(*args, *_settings_tensors(settings, eos_id, pad_id))
        return np.asarray(ops.convert_to_numpy(out), np.int32)


class NaiveDecoder:
    """The baseline: every step re-runs the full (fixed-length, compiled) sequence, no cache."""

    def __init__(self, model: ReasonLM, sampler: Sampler | None = None) -> None:
        self.model = model
        self.sampler = sampler or Sampler()
        self._step = backend.jit(self._step_fn, model.variables)

    def _step_fn(self, ids: Any, positions: Any, key_valid: Any, index: Any, u: Any, seen: Any, state: Any,
                 next_state: Any, banned: Any, row_banned: Any, temperature: Any, top_k: Any, top_p: Any,
                 rep: Any) -> Any:
        logits = self.model.forward(ids, positions, key_valid)
        last = ops.take(logits, index, axis=1)
        tok = self.sampler(last, u, temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=rep,
                           seen=seen, banned=ops.logical_or(ops.take(banned, state, axis=0), row_banned))
        return tok

    def generate(self, prompt_ids: np.ndarray, uniforms: np.ndarray, settings: DecodeSettings, *,
                 eos_id: int = -1, pad_id: int = 0, automaton: BanAutomaton | None = None,
                 row_banned: np.ndarray | None = None) -> np.ndarray:
        prompt_ids = np.asarray(prompt_ids, np.int32)
        b, p = prompt_ids.shape
        if row_banned is None:
            row_banned = np.zeros((b, self.model.vocab_size), bool)
        n_new = uniforms.shape[1]
        automaton = automaton or empty_automaton(self.model.vocab_size)
        n_pad, _ = prompt_layout(prompt_ids, pad_id)
        ids = np.full((b, p + n_new), pad_id, np.int32)
        ids[:, :p] = prompt_ids
        positions = np.maximum(np.arange(p + n_new)[None, :] - n_pad[:, None], 0).astype(np.int32)
        key_valid = np.arange(p + n_new)[None, :] >= n_pad[:, None]
        seen = np.zeros((b, self.model.vocab_size), np.float32)
        state = np.zeros(b, np.int32)
        done = np.zeros(b, bool)
        out = np.full((b, n_new), pad_id, np.int32)
        t, k, tp, r, _, _ = _settings_tensors(settings, eos_id, pad_id)
        tables = [ops.convert_to_tensor(automaton.next_state), ops.convert_to_tensor(automaton.banned),
                  ops.convert_to_tensor(np.asarray(row_banned, bool))]
        for step in range(n_new):
            args = [ops.convert_to_tensor(x) for x in (ids, positions, key_valid, np.int32(p - 1 + step),
                                                        np.asarray(uniforms[:, step], np.float32), seen, state)]
            tok = self._step(*args, *tables, t, k, tp, r)
            tok = np.where(done, pad_id, np.asarray(ops.convert_to_numpy(tok), np.int32))
            out[:, step] = tok
            ids[:, p + step] = tok
            seen[np.arange(b), tok] = 1.0
            state = automaton.next_state[state, tok]
            done |= tok == eos_id
            if done.all():
                break
        return out


def cached_logits(model: ReasonLM, prompt_ids: np.ndarray, continuation: np.ndarray, pad_id: int = 0) -> np.ndarray:
    """Logits [B, N, V] for each continuation token position, fed one at a time through the cache.

    Row i of the result is the distribution after prompt + continuation[:, :i] (teacher forcing).
    For tests of cache-vs-full-forward agreement.
    """
    prompt_ids = np.asarray(prompt_ids, np.int32)
    b, p = prompt_ids.shape
    n = continuation.shape[1]
    n_pad, positions = prompt_layout(prompt_ids, pad_id)
    key_valid = np.concatenate([np.arange(p)[None, :] >= n_pad[:, None], np.ones((b, n), bool)], axis=1)
    cache = model.empty_cache(b, p + n)
    _, _, cache = model.call_with_cache(prompt_ids[:, :-1], positions[:, :-1], key_valid, cache, 0)
    tok = prompt_ids[:, -1]
    outs = []
    for i in range(n):
        index = p - 1 + i
        logits, _, cache = model.call_with_cache(tok[:, None], (index - n_pad)[:, None], key_valid, cache, index)
        outs.append(np.asarray(ops.convert_to_numpy(logits))[:, 0])
        tok = continuation[:, i]
    return np.stack(outs, axis=1)


def full_logits(model: ReasonLM, prompt_ids: np.ndarray, continuation: np.ndarray, pad_id: int = 0) -> np.ndarray:
    """The same logits as `cached_logits`, from one full forward pass without a cache."""
    prompt_ids = np.asarray(prompt_ids, np.int32)
    b, p = prompt_ids.shape
    n = continuation.shape[1]
    ids = np.concatenate([prompt_ids, continuation.astype(np.int32)], axis=1)
    n_pad, _ = prompt_layout(prompt_ids, pad_id)
    positions = np.maximum(np.arange(p + n)[None, :] - n_pad[:, None], 0).astype(np.int32)
    key_valid = np.arange(p + n)[None, :] >= n_pad[:, None]
    logits = np.asarray(ops.convert_to_numpy(model.forward(ids, positions, key_valid)))
    return logits[:, p - 1:p - 1 + n]
