"""A small decoder-only Transformer (prefix LM) with one cached step call, in Keras 3 ops only.

The conditioning prefix (category, length bucket, persona, attribute names and values) and the
reason share one causal sequence; the loss is taken on the reason only. Like keras-hub, the
model exposes `call_with_cache` and knows nothing about sampling. Unlike keras-hub's GPT-2,
each layer keeps its own key/value cache in the attention-friendly `[batch, heads, time,
head_dim]` layout, updated in place (no per-step restacking of all layers' caches), Q/K/V is
one fused projection, and the prompt is pre-filled at its own length only.

Imports nothing beyond keras and numpy, so it runs on TensorFlow, JAX or torch.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

NEG_INF = -1e9


class DecoderBlock(keras.layers.Layer):
    """Pre-LayerNorm block: causal self-attention then a GELU MLP, both residual."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.d_model, self.n_heads, self.d_ff, self.dropout_rate = d_model, n_heads, d_ff, dropout
        self.head_dim = d_model // n_heads
        self.ln1 = keras.layers.LayerNormalization(epsilon=1e-5, name="ln1")
        self.qkv = keras.layers.Dense(3 * d_model, name="qkv")
        self.proj = keras.layers.Dense(d_model, name="proj")
        self.ln2 = keras.layers.LayerNormalization(epsilon=1e-5, name="ln2")
        self.ff1 = keras.layers.Dense(d_ff, name="ff1")
        self.ff2 = keras.layers.Dense(d_model, name="ff2")
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape: Any) -> None:
        for layer, dim in ((self.ln1, self.d_model), (self.qkv, self.d_model), (self.proj, self.d_model),
                           (self.ln2, self.d_model), (self.ff1, self.d_model), (self.ff2, self.d_ff)):
            layer.build((None, None, dim))
        self.built = True

    def _split_heads(self, x: Any) -> tuple[Any, Any, Any]:
        """[B, S, 3d] -> three [B, H, S, Dh] tensors."""
        b, s = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (b, s, 3, self.n_heads, self.head_dim))
        x = ops.transpose(x, (2, 0, 3, 1, 4))
        return x[0], x[1], x[2]

    def _attend(self, q: Any, k: Any, v: Any, mask: Any, training: bool | None) -> Any:
        """Scaled dot-product attention; mask [B, 1|S, T] (True = may attend)."""
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * (1.0 / math.sqrt(self.head_dim))
        scores = ops.where(mask[:, None, :, :], scores, NEG_INF)
        weights = ops.softmax(scores, axis=-1)
        out = ops.matmul(weights, v)  # [B, H, S, Dh]
        b, s = ops.shape(out)[0], ops.shape(out)[2]
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (b, s, self.d_model))
        return self.drop(self.proj(out), training=training)

    def _mlp(self, x: Any, training: bool | None) -> Any:
        h = ops.gelu(self.ff1(self.ln2(x)), approximate=True)
        return self.drop(self.ff2(h), training=training)

    def call(self, x: Any, mask: Any, training: bool | None = None) -> Any:
        q, k, v = self._split_heads(self.qkv(self.ln1(x)))
        x = x + self._attend(q, k, v, mask, training)
        return x + self._mlp(x, training)

    def call_with_cache(self, x: Any, mask: Any, k_cache: Any, v_cache: Any, index: Any) -> tuple[Any, Any, Any]:
        """Attend over the cache after writing this chunk's keys/values at `index`."""
        q, k, v = self._split_heads(self.qkv(self.ln1(x)))
        k_cache = ops.slice_update(k_cache, (0, 0, index, 0), k)
        v_cache = ops.slice_update(v_cache, (0, 0, index, 0), v)
        x = x + self._attend(q, k_cache, v_cache, mask, False)
        return x + self._mlp(x, False), k_cache, v_cache

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "d_model": self.d_model, "n_heads": self.n_heads,
                "d_ff": self.d_ff, "dropout": self.dropout_rate}


class ReasonLM(keras.Model):
    """Token + learned position embeddings, `n_layers` blocks, final LayerNorm, tied output."""

    def __init__(self, vocab_size: int, max_len: int = 160, d_model: int = 192, n_layers: int = 4,
                 n_heads: int = 4, d_ff: int | None = None, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size, self.max_len, self.d_model = vocab_size, max_len, d_model
        self.n_layers, self.n_heads = n_layers, n_heads
        self.d_ff = d_ff or 4 * d_model
        self.dropout_rate = dropout
        self.head_dim = d_model // n_heads
        self.tok = keras.layers.Embedding(vocab_size, d_model, name="tok",
                                          embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.pos = keras.layers.Embedding(max_len, d_model, name="pos",
                                          embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01))
        self.blocks = [DecoderBlock(d_model, n_heads, self.d_ff, dropout, name=f"block{i}") for i in range(n_layers)]
        self.ln_f = keras.layers.LayerNormalization(epsilon=1e-5, name="ln_f")
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape: Any = None) -> None:
        self.tok.build((None, None))
        self.pos.build((None, None))
        for block in self.blocks:
            block.build((None, None, self.d_model))
        self.ln_f.build((None, None, self.d_model))
        self.built = True

    # -- shared pieces ---------------------------------------------------------------------
    def _embed(self, token_ids: Any, positions: Any, training: bool | None = None) -> Any:
        positions = ops.clip(positions, 0, self.max_len - 1)
        return self.drop(self.tok(token_ids) + self.pos(positions), training=training)

    def _logits(self, x: Any) -> Any:
        return ops.matmul(self.ln_f(x), ops.transpose(self.tok.embeddings))

    # -- full-sequence forward (training, naive decoding) ------------------------------------
    def call(self, token_ids: Any, training: bool | None = None) -> Any:
        """Logits [B, T, V] for right-padded sequences that start at position 0."""
        t = ops.shape(token_ids)[1]
        positions = ops.broadcast_to(ops.arange(t, dtype="int32")[None, :], ops.shape(token_ids))
        return self.forward(token_ids, positions, ops.ones(ops.shape(token_ids), dtype="bool"), training)

    def forward(self, token_ids: Any, positions: Any, key_valid: Any, training: bool | None = None) -> Any:
        """Full causal forward with explicit positions and key validity (left padding allowed)."""
        t = ops.shape(token_ids)[1]
        causal = ops.arange(t)[None, :] <= ops.arange(t)[:, None]  # [S, T]
        mask = ops.logical_and(causal[None, :, :], key_valid[:, None, :])
        x = self._embed(token_ids, positions, training)
        for block in self.blocks:
            x = block(x, mask, training=training)
        return self._logits(x)

    # -- incremental decoding ---------------------------------------------------------------
    def empty_cache(self, batch_size: int, length: int, dtype: str = "float32") -> tuple[Any, ...]:
        """Per-layer (k, v) caches, each [B, H, length, Dh], flattened to one tuple."""
        shape = (batch_size, self.n_heads, length, self.head_dim)
        return tuple(ops.zeros(shape, dtype=dtype) for _ in range(2 * self.n_layers))

    def call_with_cache(self, token_ids: Any, positions: Any, key_valid: Any, cache: tuple[Any, ...],
                        index: Any, compute_logits: bool = True) -> tuple[Any, Any, tuple[Any, ...]]:
        """One chunk (the prompt, or one token) written at cache slot `index`.

        token_ids/positions: [B, S]; key_valid: [B, T] (False for left padding); cache as from
        `empty_cache`. Returns (logits [B, S, V] or None when `compute_logits` is False,
        hidden [B, S, d], updated cache).
        """
        s = ops.shape(token_ids)[1]
        t = ops.shape(cache[0])[2]
        q_pos = index + ops.arange(s)
        causal = ops.arange(t)[None, :] <= q_pos[:, None]  # [S, T]
        mask = ops.logical_and(causal[None, :, :], key_valid[:, None, :])
        x = self._embed(token_ids, positions)
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, k, v = block.call_with_cache(x, mask, cache[2 * i], cache[2 * i + 1], index)
            new_cache += [k, v]
        hidden = self.ln_f(x)
        logits = ops.matmul(hidden, ops.transpose(self.tok.embeddings)) if compute_logits else None
        return logits, hidden, tuple(new_cache)

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "max_len": self.max_len, "d_model": self.d_model,
                "n_layers": self.n_layers, "n_heads": self.n_heads, "d_ff": self.d_ff,
                "dropout": self.dropout_rate}


def build_model(config: dict[str, Any]) -> ReasonLM:
    """A built model from a config dict (the keys of `ReasonLM.get_config`)."""
    model = ReasonLM(**config)
    model.build()
    return model
