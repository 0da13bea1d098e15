"""Human review of exposed texts (the seed article's 人工审核) and checker accuracy from the labels.

``review_sample`` draws a seeded sample stratified by arm × checker verdict (banned term /
contradicted claim / clean): each arm gets an equal share of n, and within an arm the flagged
strata are over-sampled (up to a third of the arm's share each) so that precision can be
estimated; every row carries its stratum's weight = stratum size / rows drawn. Reviewers fill
``label_ad_law`` and ``label_unfaithful`` with 1/0 (blank = not reviewed).

``evaluate_labels`` reads them back: per checker, the raw confusion counts and the
weight-corrected precision, recall and accuracy, i.e. estimates for all exposed pairs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from abkit.errors import AbkitError
from abkit.text.faithfulness import FaithfulnessChecker
from abkit.text.items import items_by_id
from abkit.text.scoring import score_pairs
from abkit.text.selfbleu import seeded_rng

EXPOSED_SQL = """
SELECT e.arm, e.item_id, e.reason_id, r.segment, r.text, count(*) AS exposures,
       i.category, i.brand, i.title, i.price, i.discount, CAST(i.attributes AS VARCHAR) AS attributes
FROM exposures e
JOIN reasons r ON r.reason_id = e.reason_id
LEFT JOIN items i ON i.item_id = e.item_id
WHERE e.experiment = ? AND e.ts >= ? AND e.ts < ? AND r.text IS NOT NULL
GROUP BY ALL
ORDER BY e.arm, e.item_id, e.reason_id
"""
LABELS = {"ad_law": "label_ad_law", "unfaithful": "label_unfaithful"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def for_spreadsheet(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy safe to open in a spreadsheet (OWASP "CSV injection"): a text cell that starts with
    ``= + - @``, a tab or a carriage return gets a leading ``'`` so it is shown, never evaluated."""
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return out


def exposed_texts(con: Any, spec: Any) -> pd.DataFrame:
    """Distinct (arm, item, reason) exposed in the spec's window, with the item's columns."""
    lo, hi = spec.window_utc()
    return con.execute(EXPOSED_SQL, [spec.key, lo, hi]).df()


def _fmt(items: list[Any] | None, fn) -> str:
    return "; ".join(fn(x) for x in items or [])


def review_sample(exposed: pd.DataFrame, *, n: int, seed: str) -> pd.DataFrame:
    """A seeded sample of at most ``n`` rows of ``exposed`` stratified by arm × checker verdict."""
    if exposed.empty:
        raise AbkitError("no exposed texts in the experiment window (ingest exposures and reasons first)")
    df = exposed.reset_index(drop=True).copy()
    catalog = items_by_id(df.drop_duplicates("item_id"))
    catalog = {k: v for k, v in catalog.items() if isinstance(df.loc[df["item_id"] == k, "category"].iloc[0], str)}
    scores = score_pairs(df["text"].tolist(), df["item_id"].tolist(), catalog,
                         faithfulness=FaithfulnessChecker(catalog.values()))
    idx = range(len(df))
    df["checker_ad_law"] = scores.violation.astype(int)
    df["checker_terms"] = [_fmt(scores.matches.get(i), lambda m: f"{m.term}({m.category})") for i in idx]
    df["checker_unfaithful"] = [None if np.isnan(v) else int(v) for v in scores.unfaithful]
    df["checker_claims"] = [_fmt(scores.contradicted.get(i), lambda c: f"{c.surface}: {c.note}") for i in idx]
    df["checker_unsupported"] = [_fmt(scores.unsupported_claims.get(i), lambda c: c.surface) for i in idx]
    df["stratum"] = np.where(df["checker_ad_law"] == 1, "ad_law",
                             np.where(df["checker_unfaithful"].fillna(0) == 1, "unfaithful", "clean"))
    rng = seeded_rng(seed, "review")
    arms = sorted(df["arm"].unique())
    per_arm = max(1, n // len(arms))
    picks: list[pd.DataFrame] = []
    for arm in arms:
        sub = df[df["arm"] == arm]
        budget = per_arm
        quotas: dict[str, int] = {}
        for stratum in ("ad_law", "unfaithful"):
            size = int((sub["stratum"] == stratum).sum())
            quotas[stratum] = min(size, math.ceil(per_arm / 3))
            budget -= quotas[stratum]
        quotas["clean"] = min(int((sub["stratum"] == "clean").sum()), max(budget, 0))
        for stratum, q in quotas.items():
            pool = sub[sub["stratum"] == stratum]
            if q <= 0 or pool.empty:
                continue
            take = pool.iloc[np.sort(rng.choice(len(pool), size=q, replace=False))].copy()
            take["weight"] = len(pool) / q
            picks.append(take)
    out = pd.concat(picks, ignore_index=True)
    out.insert(0, "sample_id", [f"s{i + 1:04d}" for i in range(len(out))])
    out["label_ad_law"] = ""
    out["label_unfaithful"] = ""
    out["reviewer_note"] = ""
    cols = ["sample_id", "arm", "stratum", "weight", "item_id", "reason_id", "segment", "text", "exposures",
            "category", "brand", "title", "price", "discount", "attributes", "checker_ad_law", "checker_terms",
            "checker_unfaithful", "checker_claims", "checker_unsupported", "label_ad_law", "label_unfaithful",
            "reviewer_note"]
    return out[cols]


def _binary(series: pd.Series, col: str) -> pd.Series:
    def conv(v: Any) -> float:
        if v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "":
            return np.nan
        s = str(v).strip().lower()
        if s in ("1", "1.0", "true", "yes", "y", "是"):
            return 1.0
        if s in ("0", "0.0", "false", "no", "n", "否"):
            return 0.0
        raise AbkitError(f"{col}: {v!r} is not a label (use 1/0, blank = not reviewed)")
    return series.map(conv).astype(float)


def evaluate_labels(labels: pd.DataFrame) -> dict[str, Any]:
    """Checker accuracy against reviewers' labels: raw counts and weight-corrected estimates."""
    missing = {"checker_ad_law", "checker_unfaithful", *LABELS.values()} - set(labels.columns)
    if missing:
        raise AbkitError(f"labels file lacks column(s) {', '.join(sorted(missing))}")
    w_all = pd.to_numeric(labels["weight"], errors="coerce").fillna(1.0) if "weight" in labels else None
    out: dict[str, Any] = {}
    for checker, label_col in LABELS.items():
        lab = _binary(labels[label_col], label_col)
        pred = pd.to_numeric(labels[f"checker_{checker}"], errors="coerce")
        ok = lab.notna() & pred.notna()
        y, p = lab[ok].to_numpy(), pred[ok].to_numpy()
        w = np.ones(ok.sum()) if w_all is None else w_all[ok].to_numpy()
        tp, fp = float(((p == 1) & (y == 1)).sum()), float(((p == 1) & (y == 0)).sum())
        fn, tn = float(((p == 0) & (y == 1)).sum()), float(((p == 0) & (y == 0)).sum())

        def ratio(num: float, den: float) -> float | None:
            return None if den == 0 else num / den

        wtp = float(w[(p == 1) & (y == 1)].sum())
        out[checker] = {
            "labelled": int(ok.sum()),
            "tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn),
            "precision": ratio(wtp, float(w[p == 1].sum())),
            "recall": ratio(wtp, float(w[y == 1].sum())),
            "accuracy": ratio(float(w[p == y].sum()), float(w.sum())),
            "sample_precision": ratio(tp, tp + fp),
            "sample_recall": ratio(tp, tp + fn),
        }
    return out
