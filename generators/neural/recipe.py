"""The reproducible training recipe: world catalog -> reference corpus -> tokens -> model -> files.

Split: a seeded share of items is held out entirely (never trained on); among the remaining
items, corpus rows marked 'heldout' (held-out templates or attribute combinations) are not
trained on either. Validation loss and perplexity use held-out items' rows and held-out-template
rows; the quality bars (evaluate.py) use held-out items only.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from abkit.world import vocab
from generators.neural.artifact import save_artifact
from generators.neural.data import build_tokenizer, encode_corpus, split_items
from generators.neural.train import TrainConfig, masked_nll, train_model

MODEL_VERSION_PREFIX = "reason"


def build_world(corpus_items: int, seed: int, holdout_templates: float = 0.2, personas_per_item: int = 3):
    """(items, corpus): each item gets `personas_per_item` of the 12 personas + none (seeded).

    Many items with few rows each, rather than few items with every persona: an item seen 13
    times can be memorized (brand + sub-category -> values), an item seen 2-3 times cannot, so
    the cheapest way to a low loss is to copy the values from the prompt.
    """
    import pandas as pd

    from abkit.world.catalog import make_catalog
    from generators.corpus import build_corpus

    items = make_catalog(corpus_items, seed=seed + 1)
    options: list[str | None] = [*vocab.SEGMENTS, None]
    k = min(max(personas_per_item, 1), len(options))
    rng = np.random.default_rng(seed + 104729)
    picks = np.argsort(rng.random((len(items), len(options))), axis=1)[:, :k]
    parts = []
    for j, persona in enumerate(options):
        chosen = (picks == j).any(axis=1)
        if chosen.any():
            parts.append(build_corpus(items[chosen], personas=[persona], per_pair=1, seed=seed, corrupt_rate=0.0,
                                      holdout_templates=holdout_templates))
    corpus = pd.concat(parts, ignore_index=True)
    order = {iid: i for i, iid in enumerate(items["item_id"].astype(str))}
    corpus["_o"] = corpus["item_id"].astype(str).map(order)
    corpus = corpus.sort_values(["_o", "segment"], kind="stable", na_position="last").drop(columns="_o")
    return items, corpus.reset_index(drop=True)


def train_generator(out: str | Path, *, corpus_items: int = 36000, heldout_items: float = 0.03,
                    holdout_templates: float = 0.2, personas_per_item: int = 3, config: TrainConfig | None = None,
                    verbose: int = 1, log=print) -> dict[str, Any]:
    """Build the corpus, train, save weights + tokenizer + metadata under `out`; return metadata."""
    cfg = config or TrainConfig()
    t0 = time.perf_counter()
    items, corpus = build_world(corpus_items, cfg.seed, holdout_templates, personas_per_item)
    tok = build_tokenizer(corpus["text"].tolist(), items)
    seqs = encode_corpus(tok, corpus, items)
    held_mask = split_items(items, heldout_items, cfg.seed)
    held_ids = set(items.loc[held_mask, "item_id"].astype(str))
    on_held_item = corpus["item_id"].astype(str).isin(held_ids).to_numpy()
    held_tpl = (corpus["split"] == "heldout").to_numpy()
    train_idx = np.flatnonzero(~on_held_item & ~held_tpl)
    val_idx = np.flatnonzero(on_held_item | held_tpl)
    log(f"corpus: {len(corpus)} rows from {corpus_items} items; train {len(train_idx)}, validation "
        f"{len(val_idx)} ({int(held_mask.sum())} held-out items); vocab {tok.vocab_size}; "
        f"prep {time.perf_counter() - t0:.0f}s")
    pick = lambda idx: ([seqs.tokens[i] for i in idx], seqs.prompt_len[idx])  # noqa: E731
    model, record = train_model(pick(train_idx), pick(val_idx), tok.vocab_size, cfg, out, verbose=verbose,
                                pad_id=tok.pad_id)
    val_nll = {}
    rng = np.random.default_rng(cfg.seed + 2)
    for name, idx in (("heldout_items", np.flatnonzero(on_held_item)),
                      ("heldout_templates", np.flatnonzero(held_tpl & ~on_held_item)),
                      ("train_sample", train_idx)):
        idx = rng.permutation(idx)[:2000]
        nll, n = masked_nll(model, *pick(idx), pad_id=tok.pad_id)
        val_nll[name] = {"nll_per_char": round(nll, 4) if n else None,
                         "char_perplexity": round(float(np.exp(nll)), 4) if n else None,
                         "tokens": n, "sequences": len(idx)}
    meta = {
        "name": Path(out).name,
        "model_version": f"{Path(out).name}",
        "generator": "neural",
        "recipe": {"corpus_items": corpus_items, "catalog_seed": cfg.seed + 1, "corpus_seed": cfg.seed,
                   "personas": "12 + none", "personas_per_item": personas_per_item, "per_pair": 1, "heldout_items": heldout_items,
                   "holdout_templates": holdout_templates, "train_sequences": len(train_idx),
                   "validation_sequences": len(val_idx), "objective": "next-token CE on reason + <eos>",
                   "command": f"abkit train-generator --corpus-items {corpus_items} --out {out} "
                              f"--steps {cfg.steps} --seed {cfg.seed} --personas-per-item {personas_per_item}"},
        "training": {**record, "wall_seconds_total": round(time.perf_counter() - t0, 1),
                     "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores"},
        "params": record["params"],
        "validation": val_nll,
        "heldout_item_ids": sorted(held_ids),
    }
    save_artifact(out, model, tok, meta)
    log(f"saved {out}: {record['params']:,} params; held-out perplexity per token "
        f"{val_nll['heldout_items']['char_perplexity']}")
    return meta
