"""The optional analysis blocks reports render: ``daily``, ``text_features`` and ``samples``.

Each block is computed on its own, and a block that fails becomes a note (and a warning) instead
of failing the analysis. They read the per-user table (``rel.per_user``), so analyze calls this
before dropping it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from abkit.spec import Spec
from experiments.analysis import queries as q
from experiments.analysis.daily import daily_block
from experiments.analysis.engines.base import Engine
from experiments.analysis.engines.timed import TimedEngine
from experiments.analysis.samples import sample_block
from experiments.analysis.text_behaviour import NOTE, text_feature_block

Block = Callable[[Spec, Engine, q.QueryParams, q.Relations], list[dict[str, Any]]]
BLOCKS: dict[str, Block] = {"daily": daily_block, "text_features": text_feature_block, "samples": sample_block}
TEXT_BLOCKS = ("text_features", "samples")  # need the reasons table: skipped without text metrics


def analysis_blocks(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations, notes: list[str], *,
                    text_metrics: bool = True, overrides: dict[str, Block] | None = None) -> dict[str, Any]:
    """{"daily": [...], "text_features": [...], "text_features_note": str, "samples": [...]}:
    blocks that could not be computed are left out and explained in ``notes``. ``overrides``
    computes a block another way (the incremental state's daily block)."""
    out: dict[str, Any] = {}
    for name, block in {**BLOCKS, **(overrides or {})}.items():
        if name in TEXT_BLOCKS and not text_metrics:
            continue
        timed = engine.block(name) if isinstance(engine, TimedEngine) else nullcontext()
        try:
            with timed:
                out[name] = block(spec, engine, params, rel)
        except Exception as exc:  # a report block must never cost the analysis
            notes.append(f"The {name} block could not be computed ({type(exc).__name__}: {exc}).")
            warnings.warn(f"analysis block {name!r} failed: {exc!r}", stacklevel=2)
    if "text_features" in out:
        out["text_features_note"] = NOTE
    return out
