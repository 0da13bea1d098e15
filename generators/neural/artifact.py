"""Saving and loading a trained generator: weights + tokenizer + metadata.json (keras + numpy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from generators.neural.model import ReasonLM, build_model
from generators.neural.tokenizer import CharTokenizer

WEIGHTS = "model.weights.h5"
TOKENIZER = "tokenizer.json"
METADATA = "metadata.json"


def save_artifact(out_dir: str | Path, model: ReasonLM, tokenizer: CharTokenizer, metadata: dict[str, Any]) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bare = build_model(model.get_config())  # not compiled: Keras would also save the optimizer state
    bare.set_weights(model.get_weights())
    bare.save_weights(str(out / WEIGHTS))
    tokenizer.save(out / TOKENIZER)
    meta = {**metadata, "model_config": model.get_config()}
    (out / METADATA).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def load_artifact(path: str | Path) -> tuple[ReasonLM, CharTokenizer, dict[str, Any]]:
    """(model, tokenizer, metadata) from a directory written by `save_artifact`."""
    path = Path(path)
    for name in (WEIGHTS, TOKENIZER, METADATA):
        if not (path / name).exists():
            raise FileNotFoundError(str(path / name))
    meta = json.loads((path / METADATA).read_text(encoding="utf-8"))
    model = build_model(meta["model_config"])
    model.load_weights(str(path / WEIGHTS))
    return model, CharTokenizer.load(path / TOKENIZER), meta


def update_metadata(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Merge fields into metadata.json (e.g. evaluation results written after training)."""
    p = Path(path) / METADATA
    meta = json.loads(p.read_text(encoding="utf-8"))
    meta.update(fields)
    p.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return meta
