"""Reason review: a seeded sample of each arm's exposed texts, human labels, labelled error rates.

Labels live in the warehouse table `text_labels` (one row per label given; the latest per
(experiment, arm, item, text) counts), created here when the warehouse predates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from abkit.errors import AbkitError
from abkit.spec import Spec
from abkit.text.review import exposed_texts, review_sample
from webapp.store import table_exists

LABELS = ("faithful", "contradicting", "unsupported", "subjective", "banned")
PER_ARM = 12

def data_stamp(con: duckdb.DuckDBPyConnection | None, experiment: str) -> tuple:
    """Changes when exposures or reasons are added (cheap: min/max statistics), not when labels are."""
    if con is None or not (table_exists(con, "reasons") and table_exists(con, "exposures")):
        return ()
    reasons = con.execute("SELECT max(ingested_at), count(*) FROM reasons WHERE experiment = ?", [experiment]).fetchone()
    exposures = con.execute("SELECT max(ingested_at) FROM exposures").fetchone()
    return (reasons or ()) + (exposures or ())


def draw(con: duckdb.DuckDBPyConnection | None, spec: Spec, per_arm: int = PER_ARM) -> pd.DataFrame:
    """The seeded review sample (seed = the experiment key) of the texts exposed in the window."""
    if con is None or not table_exists(con, "reasons"):
        return pd.DataFrame()
    exposed = exposed_texts(con, spec)
    if exposed.empty:
        return pd.DataFrame()
    return review_sample(exposed, n=per_arm * exposed["arm"].nunique(), seed=spec.key)


def with_labels(sample: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Each sampled text with its current label (if any)."""
    if sample.empty:
        return sample
    if labels.empty:
        return sample.assign(label=None, labeler=None)
    return sample.merge(labels[["arm", "item_id", "text", "label", "labeler"]], on=["arm", "item_id", "text"],
                        how="left")


def latest_labels(con: duckdb.DuckDBPyConnection | None, experiment: str) -> pd.DataFrame:
    if con is None or not table_exists(con, "text_labels"):
        return pd.DataFrame(columns=["arm", "item_id", "text", "label", "labeler", "labeled_at", "note"])
    return con.execute(
        """SELECT arm, item_id, text, label, labeler, labeled_at, note FROM (
               SELECT *, row_number() OVER (PARTITION BY arm, item_id, text ORDER BY labeled_at DESC) AS rn
               FROM text_labels WHERE experiment = ?) WHERE rn = 1""", [experiment]).df()


def save_label(con: duckdb.DuckDBPyConnection, experiment: str, arm: str, item_id: str, text: str, label: str,
               labeler: str, note: str | None) -> None:
    if label not in LABELS:
        raise AbkitError(f"label: {label!r} is not one of {', '.join(LABELS)}")
    con.execute("INSERT INTO text_labels VALUES (?, ?, ?, ?, ?, ?, now(), ?)",
                [experiment, arm, item_id, text, label, labeler, note or None])


@dataclass
class ArmRates:
    arm: str
    labelled: int
    counts: dict[str, int]
    error_rate: float | None  # share labelled anything but faithful
    ci_low: float | None
    ci_high: float | None


def error_rates(labels: pd.DataFrame, arms: list[str]) -> list[ArmRates]:
    """Per arm: label counts and the error rate with a Wilson 95% interval (over the labelled texts)."""
    out = []
    for arm in arms:
        sub = labels[labels["arm"] == arm] if not labels.empty else labels
        counts = {lab: int((sub["label"] == lab).sum()) for lab in LABELS} if len(sub) else dict.fromkeys(LABELS, 0)
        n = int(len(sub))
        errors = n - counts["faithful"]
        if n:
            lo, hi = proportion_confint(errors, n, alpha=0.05, method="wilson")
            out.append(ArmRates(arm, n, counts, errors / n, float(lo), float(hi)))
        else:
            out.append(ArmRates(arm, 0, counts, None, None, None))
    return out


def rows_for_page(df: pd.DataFrame) -> list[dict[str, Any]]:
    cols = ["arm", "item_id", "segment", "text", "title", "price", "discount", "attributes", "stratum",
            "checker_terms", "checker_claims", "label", "labeler"]
    if df.empty:
        return []
    return [{c: (None if pd.isna(v) else v) if not isinstance(v, list | dict) else v
             for c, v in zip(cols, rec, strict=True)} for rec in df[cols].itertuples(index=False)]
