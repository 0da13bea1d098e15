"""The quality bars of a trained generator, measured on held-out items (written to metadata.json).

Every rate is reported on raw model output (all sampled candidates, before any filter) and after
the candidate filter (the one text per request the generator returns).

- Faithfulness by gold labels: the item's true facts (the catalog row the corpus was written
  from) and the world's value vocabulary (abkit.world.vocab) judge each text independently of the
  filter's checker: a value of attribute A that the item states differently, a price other than
  the item's effective price, or a promotion the item does not run is a contradiction. The same
  judge gives ~0% on the clean reference corpus and flags its corrupted rows (tests).
- Compliance: the text package's checker; constrained decoding on (and, for contrast, off).
- Personalization: k candidates per (item, persona); per item, the mean char-3-gram Jaccard
  between candidates of different personas vs of the same persona; bootstrap CI (over items) of
  the difference within − across.
- Diversity: char distinct-2 of generated vs reference texts at equal n (same held-out items).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from abkit.world import vocab
from generators.base import ReasonRequest
from generators.corpus import distinct_n, item_facts

_PRICE = re.compile(r"(?:¥\s*(\d+(?:\.\d+)?))|(?<![降减\d.])(\d+(?:\.\d+)?)元")
_PROMO = re.compile(r"满\d+减\d+|第二件半价|限时直降\d+元|(?<![\d.])\d(?:\.\d)?折|满\d+包邮|买一送一")


class GoldJudge:
    """Contradictions of a text against an item's true facts, using the world's value vocabulary."""

    def __init__(self) -> None:
        lex = vocab.value_lexicon()
        owners: dict[str, set[str]] = {}
        for attr, values in lex.items():
            if attr == vocab.PROMO_ATTRIBUTE:
                continue
            for v in values:
                if len(v) >= 2 and not v.isdigit():
                    owners.setdefault(v, set()).add(attr)
        self.values = sorted(owners, key=len, reverse=True)
        self.owners = owners

    def judge(self, text: str, facts: dict[str, str], context: str = "") -> dict[str, list[str]]:
        """{'contradicted': [...], 'unsupported': [...]} (context: title/brand/sub-category)."""
        own = [str(v) for v in facts.values()] + [context]
        contradicted: list[str] = []
        unsupported: list[str] = []
        taken = np.zeros(len(text) + 1, bool)
        for m in _PROMO.finditer(text):
            taken[m.start():m.end()] = True
            if not any(m.group(0) in v for v in own):
                contradicted.append(m.group(0))
        for m in _PRICE.finditer(text):
            if taken[m.start():m.end()].any():
                continue
            taken[m.start():m.end()] = True
            value = m.group(1) or m.group(2)
            if value != facts.get(vocab.PRICE_ATTRIBUTE):
                contradicted.append(m.group(0))
        for v in self.values:
            start = text.find(v)
            while start >= 0:
                end = start + len(v)
                if not taken[start:end].any():
                    taken[start:end] = True
                    if not any(v in o or (len(o) >= 2 and o in v) for o in own):
                        clash = [a for a in self.owners[v] if a in facts]
                        (contradicted if clash else unsupported).append(v)
                start = text.find(v, end)
        return {"contradicted": contradicted, "unsupported": unsupported}


def char_grams(text: str, n: int = 3) -> frozenset[str]:
    s = "".join(text.split())
    return frozenset(s[i:i + n] for i in range(len(s) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if (a or b) else 1.0


def personalization_gap(texts: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """texts: columns item_id, segment, text (k rows per (item, segment)). Within vs across Jaccard."""
    per_item = []
    for _, g in texts.groupby("item_id", sort=True):
        grams = [char_grams(t) for t in g["text"]]
        segs = g["segment"].tolist()
        within: list[float] = []
        across: list[float] = []
        for i, j in itertools.combinations(range(len(grams)), 2):
            (within if segs[i] == segs[j] else across).append(jaccard(grams[i], grams[j]))
        if within and across:
            per_item.append((np.mean(within), np.mean(across)))
    arr = np.asarray(per_item)
    diff = arr[:, 0] - arr[:, 1]
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"items": len(diff), "within_persona_jaccard": round(float(arr[:, 0].mean()), 4),
            "across_persona_jaccard": round(float(arr[:, 1].mean()), 4),
            "difference": round(float(diff.mean()), 4), "ci95": [round(float(lo), 4), round(float(hi), 4)],
            "passes": bool(lo > 0)}


def _rate(flags: list[bool]) -> float:
    return round(float(np.mean(flags)), 5) if flags else 0.0


def evaluate_model(model_dir: str | Path, *, n_items: int = 300, k: int = 4, seed: int = 0,
                   settings: dict[str, Any] | None = None, log: Callable[[str], None] = print,
                   write: bool = True) -> dict[str, Any]:
    """Measure the quality bars on held-out items; merge them into metadata.json as 'quality'."""
    from abkit.text.compliance import default_checker
    from abkit.text.faithfulness import FaithfulnessChecker
    from abkit.world.catalog import make_catalog
    from abkit.world.textlex import world_extension
    from generators.corpus import build_corpus
    from generators.neural.artifact import update_metadata
    from generators.neural.generator import NeuralGenerator

    t0 = time.perf_counter()
    gen = NeuralGenerator(str(model_dir))
    meta = gen.metadata
    recipe = meta["recipe"]
    items = make_catalog(recipe["corpus_items"], seed=recipe["catalog_seed"])
    held = set(meta["heldout_item_ids"])
    ev = items[items["item_id"].astype(str).isin(held)].sort_values("item_id").head(n_items)
    rng = np.random.default_rng(seed)
    lengths = rng.choice(["S", "M", "L"], size=len(ev))
    requests = [ReasonRequest(str(r.item_id), r.category, r.brand, r.title, float(r.price), float(r.discount),
                              json.loads(r.attributes), seg, str(lengths[i]))
                for i, r in enumerate(ev.itertuples()) for seg in vocab.SEGMENTS]
    s = {"temperature": 0.8, "top_k": 0, "top_p": 0.95, "repetition_penalty": 1.2, "num_candidates": k,
         "max_new_tokens": 64, "constrained": True, "personalized": True, **(settings or {})}
    s["num_candidates"] = k
    reasons = gen.generate(requests, arm="eval", settings=s)
    ids = [r.reason_id for r in reasons]
    raw, raw_complete = gen.last_candidates  # the candidates the filter chose from
    unconstrained, _ = gen.sample(requests, ids, {**s, "constrained": False})
    gen_seconds = time.perf_counter() - t0

    judge, comp, faith = GoldJudge(), default_checker(), FaithfulnessChecker(extension=world_extension())
    facts = {r.item_id: item_facts(r.price, r.discount, r.attributes) for r in requests}
    by_req = [req for req in requests for _ in range(k)]

    def rates(texts: list[str], reqs: list[ReasonRequest]) -> dict[str, Any]:
        gold = [judge.judge(t, facts[q.item_id], f"{q.title}{q.brand}") for t, q in zip(texts, reqs, strict=True)]
        banned = [bool(comp.check(t, q)) for t, q in zip(texts, reqs, strict=True)]
        checker = [faith.check(t, q).unfaithful for t, q in zip(texts, reqs, strict=True)]
        in_bucket = [vocab.length_bucket(len(t)) == q.length for t, q in zip(texts, reqs, strict=True)]
        return {"n": len(texts), "unfaithful_gold": _rate([bool(g["contradicted"]) for g in gold]),
                "unsupported_gold": _rate([bool(g["unsupported"]) for g in gold]),
                "unfaithful_checker": _rate(checker), "banned_rate": _rate(banned),
                "banned_count": int(sum(banned)), "in_length_bucket": _rate(in_bucket),
                "unique_ratio": round(len(set(texts)) / max(len(texts), 1), 4),
                "examples_contradicted": [t for t, g in zip(texts, gold, strict=True) if g["contradicted"]][:5]}

    chosen = [r.text for r in reasons]
    raw_rates = rates(raw, by_req)
    raw_rates["complete"] = _rate(raw_complete)
    out: dict[str, Any] = {
        "heldout_items": len(ev), "personas": len(vocab.SEGMENTS), "candidates_per_request": k,
        "settings": s, "raw": raw_rates, "filtered": rates(chosen, requests),
        "unconstrained_raw_banned_count": int(sum(bool(comp.check(t, q)) for t, q in zip(unconstrained, by_req,
                                                                                            strict=True))),
        "passed_filter": _rate([bool(r.features["passed_filter"]) for r in reasons]),
    }
    cand = pd.DataFrame({"item_id": [q.item_id for q in by_req], "segment": [q.segment for q in by_req],
                         "text": raw})
    out["personalization"] = personalization_gap(cand, seed=seed)
    ref = build_corpus(ev, personas=list(vocab.SEGMENTS), seed=recipe["corpus_seed"],
                       holdout_templates=recipe["holdout_templates"])["text"].tolist()  # same items and personas
    n = min(len(ref), len(chosen))
    sub = lambda xs: [xs[i] for i in np.random.default_rng(seed).permutation(len(xs))[:n]]  # noqa: E731
    out["diversity"] = {"n": n, "generated_distinct_2": round(distinct_n(sub(chosen), 2), 4),
                        "reference_distinct_2": round(distinct_n(sub(ref), 2), 4),
                        "generated_distinct_1": round(distinct_n(sub(chosen), 1), 4),
                        "reference_distinct_1": round(distinct_n(sub(ref), 1), 4)}
    hit = [vocab.top_aspect(q.segment, [*q.attributes, vocab.PRICE_ATTRIBUTE]) for q in requests]
    out["persona_aspect_hit_filtered"] = _rate([a is not None and (facts[q.item_id].get(a, "\0") in t)
                                                for a, q, t in zip(hit, requests, chosen, strict=True)])
    out["heldout_char_perplexity"] = meta.get("validation", {}).get("heldout_items", {}).get("char_perplexity")
    out["eval_seconds"] = round(time.perf_counter() - t0, 1)
    out["generate_seconds"] = round(gen_seconds, 1)
    p = out["personalization"]
    out["summary"] = (f"unfaithful(gold) raw {raw_rates['unfaithful_gold']:.2%} / filtered "
                      f"{out['filtered']['unfaithful_gold']:.2%}; banned raw {raw_rates['banned_count']} "
                      f"(unconstrained {out['unconstrained_raw_banned_count']}); personalization within−across "
                      f"{p['difference']:.3f} CI {p['ci95']}; distinct-2 {out['diversity']['generated_distinct_2']} "
                      f"vs ref {out['diversity']['reference_distinct_2']} (n={n}); held-out char ppl "
                      f"{out['heldout_char_perplexity']}")
    log(out["summary"])
    if write:
        update_metadata(model_dir, quality=out)
    return out
