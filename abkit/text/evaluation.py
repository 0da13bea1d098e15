"""Scores the text checkers on a labelled (item, text) set: per-class flag rates and the headline figures.

Labels: faithful, contradicting, unsupported, subjective, banned, clean (see
tests/abkit/text/data/independent/build.py). A pair is "correct" when its label is faithful,
subjective or clean. Used by benchmarks/eval_text_checker.py and the acceptance tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from abkit.text.items import ItemFacts, items_by_id
from abkit.text.scoring import PairScores, score_pairs

LABELS = ("faithful", "contradicting", "unsupported", "subjective", "banned", "clean")
CORRECT = ("faithful", "subjective", "clean")
FLAGS = ("unfaithful", "unsupported", "subjective", "banned")


def load_labelled(folder: str | Path) -> tuple[dict[str, ItemFacts], pd.DataFrame]:
    """items.jsonl and pairs.jsonl of ``folder`` as ({item_id: ItemFacts}, pairs DataFrame)."""
    folder = Path(folder)
    rows = [json.loads(line) for line in (folder / "items.jsonl").read_text(encoding="utf-8").splitlines() if line]
    pairs = pd.read_json(folder / "pairs.jsonl", lines=True, dtype={"item_id": str})
    return items_by_id(rows), pairs


@dataclass(frozen=True)
class Evaluation:
    flag_rates: pd.DataFrame  # rows: true label, columns: share of pairs flagged by each check (+ n)
    figures: dict[str, float | None]
    false_alarms: pd.DataFrame  # wrongly flagged pairs (label, flag, item_id, text, detail)

    def to_text(self) -> str:
        fmt = self.flag_rates.to_string(float_format=lambda v: f"{v:.3f}", na_rep="—")
        figs = "\n".join(f"  {k:34s} {'—' if v is None else f'{v:.4f}'}" for k, v in self.figures.items())
        return f"share of pairs flagged, by true label:\n{fmt}\n\nfigures:\n{figs}"


def _flags(scores: PairScores) -> dict[str, np.ndarray]:
    subjective = getattr(scores, "subjective", None)
    return {
        "unfaithful": np.nan_to_num(scores.unfaithful) > 0,
        "unsupported": np.nan_to_num(scores.unsupported) > 0,
        "subjective": None if subjective is None else np.nan_to_num(np.asarray(subjective, dtype=float)) > 0,
        "banned": np.asarray(scores.violation, dtype=bool),
    }


def _rate(mask: np.ndarray | None, sel: np.ndarray) -> float | None:
    if mask is None or not sel.any():
        return None
    return float(mask[sel].mean())


def evaluate(pairs: pd.DataFrame, items: dict[str, ItemFacts],
             score: Callable[[Sequence[str], Sequence[str], dict[str, ItemFacts]], PairScores] | None = None,
             allowlist: Sequence[str] = ("最近", "第一次", "首页", "最后一步", "第一步", "一级")) -> Evaluation:
    """Flag rates per true label and the headline figures for ``pairs`` (columns item_id, text, label)."""
    texts = pairs["text"].astype(str).tolist()
    ids = pairs["item_id"].astype(str).tolist()
    scores = (score or (lambda t, i, c: score_pairs(t, i, c)))(texts, ids, items)
    flags = _flags(scores)
    label = pairs["label"].to_numpy()
    rows: dict[str, dict[str, Any]] = {}
    for lab in LABELS:
        sel = label == lab
        rows[lab] = {"n": int(sel.sum()), **{f: _rate(flags[f], sel) for f in FLAGS}}
    table = pd.DataFrame.from_dict(rows, orient="index")
    unf, ban = flags["unfaithful"], flags["banned"]
    contra = label == "contradicting"
    tp = int((unf & contra).sum())
    correct = np.isin(label, CORRECT)
    clean = label == "clean"
    allow = clean & np.array([any(w in t for w in allowlist) for t in texts])
    brands = clean & np.array([bool(items[i].brand) and items[i].brand in t for t, i in zip(texts, ids, strict=True)])
    figures: dict[str, float | None] = {
        "contradiction_precision": tp / int(unf.sum()) if unf.any() else None,
        "contradiction_recall": tp / int(contra.sum()) if contra.any() else None,
        "correct_flagged_unfaithful": _rate(unf, correct),
        "unsupported_recall": _rate(flags["unsupported"], label == "unsupported"),
        "unsupported_on_subjective": _rate(flags["unsupported"], label == "subjective"),
        "subjective_recall": _rate(flags["subjective"], label == "subjective"),
        "banned_recall": _rate(ban, label == "banned"),
        "banned_fp_clean": _rate(ban, clean),
        "banned_fp_all_non_banned": _rate(ban, label != "banned"),
        "banned_fp_allowlist_texts": _rate(ban, allow),
        "banned_fp_brand_texts": _rate(ban, brands),
    }
    wrong = []
    for f, bad in (("unfaithful", unf & ~contra), ("banned", ban & (label != "banned")),
                   ("unsupported", flags["unsupported"] & np.isin(label, ("faithful", "subjective", "clean")))):
        for i in np.flatnonzero(bad):
            detail = scores.contradicted.get(int(i)) or scores.matches.get(int(i)) or scores.unsupported_claims.get(int(i))
            wrong.append({"label": label[i], "flag": f, "item_id": ids[i], "text": texts[i], "detail": str(detail)[:160]})
    for i in np.flatnonzero(contra & ~unf):
        wrong.append({"label": "contradicting", "flag": "missed", "item_id": ids[i], "text": texts[i], "detail": ""})
    return Evaluation(table, figures, pd.DataFrame(wrong, columns=["label", "flag", "item_id", "text", "detail"]))
