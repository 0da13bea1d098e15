"""The optional analysis blocks reports render: ``daily``, ``text_features`` and ``samples``.

`analysis_blocks` is analyze's one hook: each block is computed on its own, and a block that
fails becomes a note (and a warning) instead of failing the analysis. They read the per-user
table (``rel.per_user``), so analyze calls this before dropping it.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from abkit.spec import Spec
from experiments.analysis import queries as q

# block -> (module, function(spec, engine, params, rel, log) -> list of rows)
BLOCKS = {
    "daily": ("experiments.analysis.daily", "daily_block"),
    "text_features": ("experiments.analysis.text_behaviour", "text_feature_block"),
    "samples": ("experiments.analysis.samples", "sample_block"),
}
TEXT_BLOCKS = ("text_features", "samples")  # need the reasons table: skipped without text metrics


def analysis_blocks(spec: Spec, engine: Any, params: q.QueryParams, rel: q.Relations, notes: list[str], *,
                    text_metrics: bool = True, log: list | None = None) -> dict[str, Any]:
    """{"daily": [...], "text_features": [...], "text_features_note": str, "samples": [...]}:
    blocks that could not be computed are left out and explained in ``notes``.

    ``engine``: an experiments.analysis.engines Engine or a DuckDB connection."""
    out: dict[str, Any] = {}
    for name, (module, func) in BLOCKS.items():
        if name in TEXT_BLOCKS and not text_metrics:
            continue
        try:
            out[name] = getattr(importlib.import_module(module), func)(spec, engine, params, rel, log)
        except Exception as exc:  # a report block must never cost the analysis
            notes.append(f"The {name} block could not be computed ({type(exc).__name__}: {exc}).")
            warnings.warn(f"analysis block {name!r} failed: {exc!r}", stacklevel=2)
    if "text_features" in out:
        from experiments.analysis.text_behaviour import NOTE

        out["text_features_note"] = NOTE
    return out
