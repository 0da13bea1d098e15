"""`NeuralGenerator`: the trained prefix LM behind the generator protocol (generators.base).

For each request: the prompt (category, length bucket, persona — or none when not personalized —
sub-category, brand, facts) is encoded; slots of facts the item lacks are masked, so the model
can only mention what the item has, and slots decode to the item's verbatim values (their
[attribute, value] pairs are returned as `features['mentions']`); `num_candidates` continuations are sampled, each with
its own uniforms drawn from `request_seed(reason_id)` and the candidate number; the candidate
filter (generators.filtering) picks one deterministically. Requests are decoded in batches of a
fixed shape (`batch_size` rows, prompt padded to a fixed length bucket of the request's own
prompt), so a request's text does not depend on the other requests in its batch.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from abkit.errors import AbkitError
from generators.base import Reason, ReasonRequest, reason_keys, request_seed, stable_hash

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "reason_v1"
PROMPT_BUCKETS = (96, 128, 160)
_DEFAULTS = {"temperature": 0.8, "top_k": 0, "top_p": 0.95, "repetition_penalty": 1.2, "num_candidates": 4,
             "max_new_tokens": 48, "constrained": True, "personalized": True, "seed": 0}


def candidate_uniforms(reason_id: str, n_candidates: int, n_new: int) -> np.ndarray:
    """[n_candidates, n_new] uniforms of one request: a stateless stream seeded by its id."""
    seed = request_seed(reason_id)
    return np.stack([np.random.default_rng([seed, k]).random(n_new, dtype=np.float32)
                     for k in range(n_candidates)])


def ban_lists() -> tuple[list[str], list[str]]:
    """(banned terms, allowlisted compounds): the same lexicon the compliance checker judges by."""
    from abkit.text.compliance import ALLOWLIST, BANNED_TERMS

    banned = [t for terms in BANNED_TERMS.values() for t in terms]
    allowed = list(ALLOWLIST)
    variants = lambda terms: sorted({v for t in terms for v in (t, t.lower(), t.upper())})  # noqa: E731
    return variants(banned), variants(allowed)


class NeuralGenerator:
    """The neural arm: trained model + cached compiled decoder + candidate filter."""

    name = "neural"

    def __init__(self, model_path: str | None = None, *, batch_size: int | None = None) -> None:
        self.path = Path(model_path) if model_path else DEFAULT_MODEL
        meta_file = self.path / "metadata.json"
        if not meta_file.exists():
            raise AbkitError(f"{self.path}: not a trained model (no metadata.json); "
                             "train one with `abkit train-generator --out DIR`")
        self.metadata = json.loads(meta_file.read_text(encoding="utf-8"))
        digest = hashlib.sha256((self.path / "model.weights.h5").read_bytes()).hexdigest()[:8]
        self.model_version = f"{self.metadata.get('model_version', self.path.name)}-{digest}"
        self._batch_size = batch_size
        self._loaded: dict[str, Any] | None = None
        self.last_batch_seconds = 0.0
        self.last_candidates: tuple[list[str], list[bool]] = ([], [])
        self.last_mentions: list[list[list[str]]] = []

    # -- lazy heavy state ----------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        if self._loaded is None:
            from generators.filtering import CandidateFilter
            from generators.neural import backend
            from generators.neural.artifact import load_artifact
            from generators.neural.constraints import build_automaton
            from generators.neural.decode import Decoder

            backend.configure_threads()
            model, tok, _ = load_artifact(self.path)
            banned, allowed = ban_lists()
            enc = lambda terms: [tuple(tok.encode_text(t)) for t in terms if tok.covers(t)]  # noqa: E731
            automaton = build_automaton(enc(banned), enc(allowed), tok.vocab_size)
            # rows per decoder call; on CPU 512 amortizes each step's fixed cost (about 1/8 less CPU per
            # row than 256) and changes no text: a row's tokens do not depend on its batch
            batch = self._batch_size or (2048 if backend.device_kind() == "gpu" else 512)
            self._loaded = {"model": model, "tok": tok, "decoder": Decoder(model), "automaton": automaton,
                            "filter": CandidateFilter(), "batch": batch}
        return self._loaded

    # -- protocol -----------------------------------------------------------------------------
    def generate(self, requests: list[ReasonRequest], *, arm: str, settings: dict[str, Any]) -> list[Reason]:
        t0 = time.perf_counter()
        s = {**_DEFAULTS, **{k: v for k, v in settings.items() if k in _DEFAULTS and v is not None}}
        ids = reason_keys(requests, arm=arm, model_version=self.model_version, settings=settings)
        texts, complete = self.sample(requests, ids, s)
        self.last_candidates = (texts, complete)  # raw output before the filter (for evaluation)
        st = self._load()
        k = int(s["num_candidates"])
        settings_hash = stable_hash(settings)
        out = []
        for r, (rid, req) in enumerate(zip(ids, requests, strict=True)):
            cands, done = texts[r * k:(r + 1) * k], complete[r * k:(r + 1) * k]
            seg = req.segment if s["personalized"] else None
            best, checks = st["filter"].choose(cands, req, complete=done, length=req.length, segment=seg)
            out.append(Reason(
                reason_id=rid, item_id=req.item_id, segment=req.segment, arm=arm, text=cands[best],
                generator=self.name, model_version=self.model_version, settings_hash=settings_hash,
                features={"ai_generated": True, "model": self.model_version, "candidate": best,
                          "mentions": self.last_mentions[r * k + best],
                          "candidates": k, "passed_filter": checks[best].passed,
                          "passed_candidates": sum(c.passed for c in checks),
                          "contradicted": checks[best].contradicted, "banned": checks[best].banned},
            ))
        self.last_batch_seconds = time.perf_counter() - t0
        for reason in out:
            reason.features["batch_seconds"] = round(self.last_batch_seconds, 4)
        return out

    def sample(self, requests: list[ReasonRequest], ids: list[str], settings: dict[str, Any]
               ) -> tuple[list[str], list[bool]]:
        """Raw candidates (before any filter): `num_candidates` per request, request-major order.

        Returns (texts, complete) where complete says the candidate ended with <eos>.
        """
        from generators.corpus import item_facts
        from generators.neural.data import subcategory_of
        from generators.neural.decode import DecodeSettings, left_pad

        st = self._load()
        tok, decoder = st["tok"], st["decoder"]
        s = {**_DEFAULTS, **settings}
        k, n_new = int(s["num_candidates"]), int(s["max_new_tokens"])
        dec = DecodeSettings(temperature=float(s["temperature"]), top_k=int(s["top_k"]), top_p=float(s["top_p"]),
                             repetition_penalty=float(s["repetition_penalty"]))
        automaton = st["automaton"] if s["constrained"] else None
        prompts, slot_maps, masks = [], [], []
        never = np.asarray(tok.output_mask(), bool)
        for req in requests:
            seg = req.segment if s["personalized"] else None
            sub = subcategory_of(req.category, req.title)
            facts = item_facts(req.price, req.discount, req.attributes)
            prompts.append(tok.encode_prompt(category=req.category, subcategory=sub, brand=req.brand, facts=facts,
                                             segment=seg, length=req.length if req.length in ("S", "M", "L") else "M"))
            slot_maps.append(tok.slot_values(facts, sub, req.brand))
            mask = never.copy()  # a fact the item does not have cannot be mentioned
            mask[[i for i, t in tok.slot_ids().items() if t not in slot_maps[-1] or not slot_maps[-1][t]]] = True
            masks.append(mask)
        too_long = [len(p) for p in prompts if len(p) > PROMPT_BUCKETS[-1]]
        if too_long:
            raise AbkitError(f"an item's prompt has {too_long[0]} tokens (max {PROMPT_BUCKETS[-1]}): too many attributes")
        rows = [(r, c) for r in range(len(requests)) for c in range(k)]
        texts: list[str] = [""] * len(rows)
        complete = [False] * len(rows)
        mentions: list[list[list[str]]] = [[] for _ in rows]
        self.last_mentions = mentions
        bucket_of = [next(b for b in PROMPT_BUCKETS if len(p) <= b) for p in prompts]
        batch = st["batch"]
        streams = [candidate_uniforms(rid, k, n_new) for rid in ids]
        for bucket in sorted(set(bucket_of)):
            group = [i for i, (r, _) in enumerate(rows) if bucket_of[r] == bucket]
            for start in range(0, len(group), batch):
                chunk = group[start:start + batch]
                fill = chunk + [chunk[0]] * (batch - len(chunk))  # fixed batch shape
                ids_pad = left_pad([prompts[rows[i][0]] for i in fill], bucket, tok.pad_id)
                uni = np.stack([streams[rows[i][0]][rows[i][1]] for i in fill])
                row_banned = np.stack([masks[rows[i][0]] for i in fill])
                out = decoder.generate(ids_pad, uni, dec, eos_id=tok.eos_id, pad_id=tok.pad_id, automaton=automaton,
                                       row_banned=row_banned)
                for j, i in enumerate(chunk):
                    texts[i] = tok.decode(out[j], slot_maps[rows[i][0]])
                    mentions[i] = tok.mentions(out[j], slot_maps[rows[i][0]])
                    complete[i] = bool((out[j] == tok.eos_id).any())
        return texts, complete
