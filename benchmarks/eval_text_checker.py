"""Scores the text checkers on the independent labelled catalog (dev and frozen test parts).

Usage: python benchmarks/eval_text_checker.py [--split dev|test|all] [--errors N]
Prints the per-label flag-rate table and the headline figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from abkit.text.evaluation import evaluate, load_labelled

DATA = Path(__file__).resolve().parents[1] / "tests" / "abkit" / "text" / "data" / "independent"


def world_table(n_items: int = 120, seed: int = 3, with_world_lexicon: bool = True):
    """Flag rates per gold corruption kind on the synthetic world's corpus (generators/corpus.py)."""
    import numpy as np
    import pandas as pd

    from abkit.text.faithfulness import FaithfulnessChecker
    from abkit.text.items import items_by_id
    from abkit.text.scoring import score_pairs
    from abkit.world.catalog import make_catalog
    from abkit.world.textlex import world_extension
    from generators.corpus import build_corpus

    items = make_catalog(n_items, seed=seed)
    df = build_corpus(items, personas=["价格敏感", "宝妈", "科技发烧友", None], seed=5, corrupt_rate=0.4)
    catalog = items_by_id(items)
    faith = FaithfulnessChecker(catalog.values(), extension=world_extension()) if with_world_lexicon else None
    s = score_pairs(df["text"].tolist(), df["item_id"].tolist(), catalog, faithfulness=faith)
    kind = df["corrupted"].fillna("clean").to_numpy()
    sub = getattr(s, "subjective", None)
    rows = {}
    for k in sorted(set(kind)):
        sel = kind == k
        rows[k] = {"n": int(sel.sum()), "unfaithful": float(np.nan_to_num(s.unfaithful[sel]).mean()),
                   "unsupported": float(np.nan_to_num(s.unsupported[sel]).mean()),
                   "subjective": None if sub is None else float(np.asarray(sub)[sel].mean()),
                   "banned": float(s.violation[sel].mean())}
    return pd.DataFrame.from_dict(rows, orient="index")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test", choices=["dev", "test", "all"])
    ap.add_argument("--errors", type=int, default=0, help="print up to N wrongly flagged / missed pairs")
    ap.add_argument("--world", action="store_true", help="also score the synthetic world's gold corruptions")
    args = ap.parse_args()
    if args.world:
        for lex in (False, True):
            print(f"synthetic world gold corruptions, world vocabulary passed: {lex}")
            print(world_table(with_world_lexicon=lex).to_string(float_format=lambda v: f"{v:.3f}"), "\n")
    items, pairs = load_labelled(DATA)
    if args.split != "all":
        pairs = pairs[pairs["split"] == args.split].reset_index(drop=True)
    ev = evaluate(pairs, items)
    print(f"independent catalog, split={args.split}, {len(pairs)} pairs")
    print(ev.to_text())
    if args.errors:
        print(ev.false_alarms.head(args.errors).to_string())
    print(json.dumps({"split": args.split, **{k: None if v is None else round(v, 4) for k, v in ev.figures.items()}}))


if __name__ == "__main__":
    main()
