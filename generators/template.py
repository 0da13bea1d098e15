"""The template generator: the usual control arm.

Deterministic, fact-grounded and deliberately plain: it ignores the user segment and always
uses the first (plain) paraphrase of each clause of the reference grammar
(generators/corpus.py), with attributes in the category's fixed order. Clause templates are
precompiled into (prefix, suffix) pairs, so a reason costs a few string joins; ids come from
the batched `reason_keys`.

`settings["inject_unfaithful_rate"]` (simulation only) makes that share of reasons claim a
promotion the item does not have; such reasons say so in features["corrupted"].
"""

from __future__ import annotations

import time
from typing import Any

from abkit.world import vocab
from generators.base import Reason, ReasonRequest, paused_gc, reason_keys, request_seed, stable_hash
from generators.corpus import CTA_TEMPLATES, FEATURE_TEMPLATES, PROMO_TEMPLATES

_SHARED_ORDER = ["评分", "月销", "售后", "发货", "好评率"]


def _split(template: str) -> tuple[str, str]:
    prefix, _, suffix = template.partition("{v}")
    return prefix, suffix


_FEATURE = {attr: _split(tpls[0]) for attr, tpls in FEATURE_TEMPLATES.items()}
_PROMO = _split(PROMO_TEMPLATES[0])
_PRICE = _split(FEATURE_TEMPLATES[vocab.PRICE_ATTRIBUTE][0])
_CTA = CTA_TEMPLATES[0]
_PROMO_VALUES = sorted(vocab.render_promos())
_BUCKETS = vocab.LENGTH_BUCKETS
_MAX_FEATS = {"S": 2, "M": 2, "L": 4}


def _orders() -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(category, sub-category) -> [(attribute, prefix, suffix)] in the fixed plain order."""
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for cat, spec in vocab.CATEGORIES.items():
        names = {"": list(spec["attributes"])}
        names.update({sub: list(vocab.subcategory_attributes(cat, sub)) for sub in spec["subcategories"]})
        for sub, attrs in names.items():
            out[(cat, sub)] = [(a, *_FEATURE[a]) for a in attrs + _SHARED_ORDER if a in _FEATURE]
    return out


_ORDER = _orders()
_SUBS = {cat: sorted(spec["subcategories"], key=len, reverse=True) for cat, spec in vocab.CATEGORIES.items()}


def subcategory_of(category: str, title: str) -> str:
    """The sub-category named in the title (longest match), or '' when none is."""
    for sub in _SUBS.get(category, ()):
        if sub in title:
            return sub
    return ""


class TemplateGenerator:
    """Plain, non-personalized, fact-grounded reasons (the control arm)."""

    name = "template"
    model_version = "template-v1"

    def __init__(self) -> None:
        self.last_batch_seconds = 0.0

    def generate(self, requests: list[ReasonRequest], *, arm: str, settings: dict[str, Any]) -> list[Reason]:
        t0 = time.perf_counter()
        with paused_gc():
            out = self._generate(requests, arm, settings)
        self.last_batch_seconds = time.perf_counter() - t0
        return out

    def _generate(self, requests: list[ReasonRequest], arm: str, settings: dict[str, Any]) -> list[Reason]:
        ids = reason_keys(requests, arm=arm, model_version=self.model_version, settings=settings)
        settings_hash = stable_hash(settings)
        rate = float(settings.get("inject_unfaithful_rate") or 0.0)
        write, bucket = self.write, vocab.length_bucket
        if rate > 0:  # the per-request seed decides which reasons carry an injected claim
            seeds = [request_seed(rid) for rid in ids]
            fake = [seed if seed / 2**32 < rate else None for seed in seeds]
            written = [write(req, fake_promo_seed=f) for req, f in zip(requests, fake, strict=True)]
        else:
            fake = [None] * len(requests)
            written = [write(req) for req in requests]
        name, version = self.name, self.model_version
        out = [Reason(rid, req.item_id, req.segment, arm, text, name, version, settings_hash,
                      {"mentions": mentions, "mentions_promo": has_promo, "length": bucket(len(text)),
                       "corrupted": None if f is None else "fake_discount", "ai_generated": False})
               for rid, req, (text, mentions, has_promo), f in zip(ids, requests, written, fake, strict=True)]
        return out

    @staticmethod
    def write(req: ReasonRequest, fake_promo_seed: int | None = None) -> tuple[str, list[list[str]], bool]:
        """(text, mentions, mentions_promo) for one request; the segment is ignored."""
        attrs = req.attributes
        promo = attrs.get(vocab.PROMO_ATTRIBUTE) or (vocab.discount_text(req.discount) if req.discount else None)
        if fake_promo_seed is not None:
            choices = [p for p in _PROMO_VALUES if p != promo]
            promo = choices[fake_promo_seed % len(choices)]
        length = req.length
        sub = subcategory_of(req.category, req.title)
        order = _ORDER.get((req.category, sub))
        if order is None:
            order = [(a, *_FEATURE[a]) for a in attrs if a in _FEATURE]
        lo, hi = _BUCKETS.get(length, _BUCKETS["M"])
        max_feats = _MAX_FEATS.get(length, 2)

        parts: list[str] = []
        mentions: list[list[str]] = []
        size = -1  # running length of "，".join(parts)
        if length != "S":
            subject = "这款" + (sub or req.category)
            parts.append(subject)
            size += len(subject) + 1
        has_promo = False
        if fake_promo_seed is not None:  # an injected claim must be shown
            clause = _PROMO[0] + promo + _PROMO[1]
            parts.append(clause)
            mentions.append([vocab.PROMO_ATTRIBUTE, promo])
            size += len(clause) + 1
            has_promo = True
        n_feats = 0
        for attr, pre, suf in order:
            value = attrs.get(attr)
            if value is None:
                continue
            clause = pre + value + suf
            if size + len(clause) + 1 > hi:
                continue
            parts.append(clause)
            mentions.append([attr, value])
            size += len(clause) + 1
            n_feats += 1
            if n_feats >= max_feats:
                break
        if promo and not has_promo and length != "S":
            clause = _PROMO[0] + promo + _PROMO[1]
            if size + len(clause) + 1 <= hi:
                parts.append(clause)
                mentions.append([vocab.PROMO_ATTRIBUTE, promo])
                size += len(clause) + 1
                has_promo = True
        if length == "L":
            price = vocab.price_text(req.price * (1.0 - (req.discount or 0.0)))
            clause = _PRICE[0] + price + _PRICE[1]
            if size + len(clause) + 1 <= hi:
                parts.append(clause)
                mentions.append([vocab.PRICE_ATTRIBUTE, price])
                size += len(clause) + 1
        if size < lo and size + len(_CTA) + 1 <= hi:
            parts.append(_CTA)
        return "，".join(parts), mentions, has_promo
