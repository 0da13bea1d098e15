"""Training the prefix LM with Keras `fit` (keras + numpy only; runs on any Keras backend).

Sequences (prompt + reason + <eos>) are grouped into a few length buckets so little compute is
spent on padding; the loss is next-token cross-entropy on the reason and <eos> only (the
prompt is given, not predicted). Batches are a deterministic function of (seed, step), the
optimizer is AdamW with linear warm-up and cosine decay, the best weights by validation loss are
checkpointed after every evaluation interval (`train_on_batch`, so batches of different
lengths need no fixed input signature).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from generators.neural.model import ReasonLM, build_model


@dataclass
class TrainConfig:
    d_model: int = 160
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int | None = None
    dropout: float = 0.0
    max_len: int = 160
    batch_size: int = 64
    steps: int = 1500
    eval_every: int = 100
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    buckets: list[int] = field(default_factory=lambda: [80, 96, 112, 128, 160])
    val_sequences: int = 512
    seed: int = 0

    def model_config(self, vocab_size: int) -> dict[str, Any]:
        return {"vocab_size": vocab_size, "max_len": self.max_len, "d_model": self.d_model,
                "n_layers": self.n_layers, "n_heads": self.n_heads, "d_ff": self.d_ff or 4 * self.d_model,
                "dropout": self.dropout}


def make_arrays(seqs: Sequence[np.ndarray], prompt_len: np.ndarray, length: int,
                pad_id: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, next-token targets, loss weights) [N, length]; weights = 1 on reason tokens."""
    n = len(seqs)
    x = np.full((n, length), pad_id, np.int32)
    y = np.full((n, length), pad_id, np.int32)
    w = np.zeros((n, length), np.float32)
    for i, s in enumerate(seqs):
        s = s[: length + 1]
        x[i, : len(s) - 1] = s[:-1]
        y[i, : len(s) - 1] = s[1:]
        w[i, prompt_len[i] - 1: len(s) - 1] = 1.0
    return x, y, w


class BucketBatches(keras.utils.PyDataset):
    """Length-bucketed batches, a deterministic function of (seed, global batch number)."""

    def __init__(self, seqs: Sequence[np.ndarray], prompt_len: np.ndarray, *, batch_size: int,
                 buckets: Sequence[int], batches_per_epoch: int, seed: int, pad_id: int = 0) -> None:
        super().__init__()
        self.seqs, self.prompt_len, self.batch_size = list(seqs), np.asarray(prompt_len), batch_size
        self.buckets = sorted(buckets)
        self.batches_per_epoch, self.seed, self.pad_id = batches_per_epoch, seed, pad_id
        lengths = np.array([len(s) - 1 for s in self.seqs])
        self.bucket_of = np.searchsorted(self.buckets, np.minimum(lengths, self.buckets[-1]))
        self.epoch = 0
        self._plan: list[np.ndarray] = []
        self._round = 0

    def _extend_plan(self) -> None:
        """One pass over the data: shuffle within buckets, cut into batches, shuffle batches."""
        rng = np.random.default_rng([self.seed, self._round])
        batches = []
        for b in range(len(self.buckets)):
            idx = np.flatnonzero(self.bucket_of == b)
            rng.shuffle(idx)
            batches += [idx[i:i + self.batch_size] for i in range(0, len(idx), self.batch_size)]  # last may be short
        if not batches:
            raise ValueError("no training sequences")
        order = rng.permutation(len(batches))
        self._plan += [batches[i] for i in order]
        self._round += 1

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g = self.epoch * self.batches_per_epoch + i
        while g >= len(self._plan):
            self._extend_plan()
        idx = self._plan[g]
        length = self.buckets[int(self.bucket_of[idx[0]])]
        return make_arrays([self.seqs[j] for j in idx], self.prompt_len[idx], length, self.pad_id)

    def on_epoch_end(self) -> None:
        self.epoch += 1


def masked_nll(model: ReasonLM, seqs: Sequence[np.ndarray], prompt_len: np.ndarray, *, batch_size: int = 128,
               pad_id: int = 0) -> tuple[float, int]:
    """Mean negative log-likelihood (nats) per reason token (incl. <eos>) and the token count."""
    total, count = 0.0, 0
    order = np.argsort([len(s) for s in seqs])
    for start in range(0, len(seqs), batch_size):
        idx = order[start:start + batch_size]
        length = max(len(seqs[j]) for j in idx) - 1
        x, y, w = make_arrays([seqs[j] for j in idx], prompt_len[idx], length, pad_id)
        logits = model(x, training=False)
        nll = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        total += float(ops.convert_to_numpy(ops.sum(nll * w)))
        count += int(w.sum())
    return total / max(count, 1), count


def _optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    decay_steps = max(cfg.steps - cfg.warmup_steps, 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate * 0.01, decay_steps=decay_steps, alpha=0.1,
        warmup_target=cfg.learning_rate, warmup_steps=cfg.warmup_steps)
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)


def train_model(train: tuple[Sequence[np.ndarray], np.ndarray], val: tuple[Sequence[np.ndarray], np.ndarray],
                vocab_size: int, cfg: TrainConfig, out_dir: str | Path, *, verbose: int = 1,
                pad_id: int = 0) -> tuple[ReasonLM, dict[str, Any]]:
    """Train from scratch with `train_on_batch` (any batch length, any backend), a progress bar,
    and a validation pass every `eval_every` steps that checkpoints the best weights."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg.model_config(vocab_size))
    model.compile(optimizer=_optimizer(cfg), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    data = BucketBatches(train[0], train[1], batch_size=cfg.batch_size, buckets=cfg.buckets,
                         batches_per_epoch=cfg.steps, seed=cfg.seed, pad_id=pad_id)
    vseqs, vplen = val
    keep = np.random.default_rng(cfg.seed + 1).permutation(len(vseqs))[: cfg.val_sequences]
    vsub = ([vseqs[i] for i in keep], vplen[keep])
    ckpt = out_dir / "checkpoint.weights.h5"
    history: dict[str, list[float]] = {"step": [], "loss": [], "val_nll": []}
    best = float("inf")
    t0 = time.perf_counter()
    bar = keras.utils.Progbar(cfg.steps, verbose=verbose, stateful_metrics=["val_nll", "lr"])
    window: list[float] = []
    for step in range(cfg.steps):
        x, y, w = data[step]
        w = w * (w.size / max(float(w.sum()), 1.0))  # the batch loss is then the mean NLL per reason token
        loss = float(np.asarray(model.train_on_batch(x, y, sample_weight=w)).reshape(-1)[0])
        window.append(loss)
        values = [("loss", loss)]
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            nll, _ = masked_nll(model, *vsub, pad_id=pad_id)
            history["step"].append(step + 1)
            history["loss"].append(float(np.mean(window)))
            history["val_nll"].append(nll)
            window = []
            values.append(("val_nll", nll))
            if nll < best:
                best = nll
                model.save_weights(str(ckpt))
        bar.update(step + 1, values=values)
    seconds = time.perf_counter() - t0
    if ckpt.exists():
        model.load_weights(str(ckpt))
        ckpt.unlink()  # the best weights are saved with the artifact; keep the shipped directory small
    record = {"config": asdict(cfg), "train_seconds": round(seconds, 1), "steps": cfg.steps,
              "sequences_seen": cfg.steps * cfg.batch_size, "best_val_nll_subset": best,
              "history": history, "params": int(model.count_params())}
    return model, record
