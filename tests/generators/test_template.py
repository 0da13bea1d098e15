"""The template generator: protocol, ids, determinism, grounding, plainness, injected claims."""

from __future__ import annotations

import json
import random
import time

import ahocorasick
import pandas as pd
import pytest

from abkit.world import vocab
from abkit.world.catalog import make_catalog
from generators.base import Generator, ReasonRequest, reason_key, reason_keys, request_seed, stable_hash
from generators.corpus import build_corpus, distinct_n, item_facts
from generators.template import TemplateGenerator, subcategory_of

SETTINGS = {"type": "template", "length": "M", "experiment": "exp1"}


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return make_catalog(400, seed=11)


def _requests(items: pd.DataFrame, length: str = "M", segment: str | None = None) -> list[ReasonRequest]:
    return [ReasonRequest(i, c, b, t, p, d, json.loads(a), segment, length)
            for i, c, b, t, p, d, a in zip(items.item_id, items.category, items.brand, items.title, items.price,
                                           items.discount, items.attributes, strict=True)]


def test_protocol_ids_and_determinism(items: pd.DataFrame) -> None:
    gen = TemplateGenerator()
    assert isinstance(gen, Generator) and gen.name == "template" and gen.model_version == "template-v1"
    reqs = _requests(items)
    a = gen.generate(reqs, arm="control", settings=SETTINGS)
    b = TemplateGenerator().generate(list(reversed(reqs)), arm="control", settings=SETTINGS)[::-1]
    assert a == b
    assert [r.reason_id for r in a] == [reason_key(q, arm="control", model_version="template-v1", settings=SETTINGS)
                                        for q in reqs]
    assert all(r.settings_hash == stable_hash(SETTINGS) for r in a)
    assert len({r.reason_id for r in a}) == len(a)
    # Not personalized: the same text for every segment, but each (item, segment) has its own id.
    p = gen.generate(_requests(items, segment="宝妈"), arm="control", settings=SETTINGS)
    assert [r.text for r in p] == [r.text for r in a]
    assert not {r.reason_id for r in p} & {r.reason_id for r in a}


def test_reason_keys_batch_equals_reason_key() -> None:
    rng = random.Random(3)
    reqs = [ReasonRequest(f'i"{k}\\', rng.choice(["服饰", "数码"]), "澜屿", "标题", rng.random() * 100,
                          rng.choice([0.0, 0.2]), {"材质": "纯棉", "促销": "满99减10"}, rng.choice([None, "宝妈", 'x"y']),
                          rng.choice("SML")) for k in range(200)]
    settings = {"type": "neural", "temperature": 0.7, "experiment": "e"}
    assert reason_keys(reqs, arm="a", model_version="m", settings=settings) == [
        reason_key(r, arm="a", model_version="m", settings=settings) for r in reqs]


@pytest.mark.parametrize("length", ["S", "M", "L"])
def test_grounded_compliant_and_length(items: pd.DataFrame, length: str) -> None:
    reqs = _requests(items, length)
    out = TemplateGenerator().generate(reqs, arm="control", settings=SETTINGS)
    banned = ahocorasick.Automaton()
    for t in vocab.ABSOLUTE_TERMS:
        banned.add_word(t, t)
    banned.make_automaton()
    lo, hi = vocab.LENGTH_BUCKETS[length]
    in_bucket = 0
    for req, r in zip(reqs, out, strict=True):
        facts = item_facts(req.price, req.discount, req.attributes)
        assert r.features["mentions"], r.text
        for attr, value in r.features["mentions"]:
            assert value in r.text and facts[attr] == value, (attr, value, r.text)
        assert r.features["mentions_promo"] == any(a == vocab.PROMO_ATTRIBUTE for a, _ in r.features["mentions"])
        assert r.features["corrupted"] is None and r.features["ai_generated"] is False
        assert r.features["length"] == vocab.length_bucket(len(r.text))
        assert len(r.text) <= hi and not list(banned.iter(r.text))
        in_bucket += lo <= len(r.text)
    assert in_bucket >= (0.85 if length == "L" else 0.99) * len(out)


def test_injected_unfaithful_claims(items: pd.DataFrame) -> None:
    reqs = _requests(items)
    settings = {**SETTINGS, "inject_unfaithful_rate": 0.25}
    out = TemplateGenerator().generate(reqs, arm="control", settings=settings)
    bad = [(q, r) for q, r in zip(reqs, out, strict=True) if r.features["corrupted"]]
    assert 0.15 < len(bad) / len(out) < 0.35
    for q, r in bad:
        assert r.features["corrupted"] == "fake_discount"
        assert request_seed(r.reason_id) / 2**32 < 0.25
        claimed = [v for a, v in r.features["mentions"] if a == vocab.PROMO_ATTRIBUTE]
        assert claimed and claimed[0] in r.text
        assert claimed[0] != item_facts(q.price, q.discount, q.attributes).get(vocab.PROMO_ATTRIBUTE)


def test_plainer_than_the_corpus(items: pd.DataFrame) -> None:
    """distinct-2 at equal sample size: the reference corpus is far more varied than the template."""
    corpus = build_corpus(items, seed=0)
    texts = []
    for length in "SML":
        texts += [r.text for r in TemplateGenerator().generate(_requests(items, length), arm="c", settings=SETTINGS)]
    n = min(len(texts), len(corpus), 1000)
    d_template = distinct_n(random.Random(0).sample(texts, n), 2)
    d_corpus = distinct_n(corpus["text"].sample(n, random_state=0).tolist(), 2)
    assert d_corpus > 1.5 * d_template


def test_subcategory_from_title() -> None:
    assert subcategory_of("运动", "澜屿 速干T恤新款") == "速干T恤"
    assert subcategory_of("服饰", "澜屿 简约T恤") == "T恤"
    assert subcategory_of("服饰", "无名") == ""


def test_speed_sanity() -> None:
    """Throughput is printed (not asserted: the machine is shared); correctness is."""
    items = make_catalog(20_000, seed=4)
    reqs = _requests(items)
    t0 = time.perf_counter()
    out = TemplateGenerator().generate(reqs, arm="control", settings=SETTINGS)
    dt = time.perf_counter() - t0
    print(f"template generator: {len(out) / dt:,.0f} reasons/s")
    assert len(out) == len(reqs) and all(r.text for r in out)


def test_outputs_equal_the_recorded_per_row_outputs() -> None:
    """Ids, texts and features byte-equal to those the per-row generator wrote (recorded in
    data/template_golden.json: 150 catalog items with quotes, backslashes and a brace in a value, a bracket
    in a title, segments incl. None and a quote, lengths S/M/L and an unknown one, injected claims)."""
    from pathlib import Path

    doc = json.loads((Path(__file__).parent / "data" / "template_golden.json").read_text(encoding="utf-8"))
    reqs = [ReasonRequest(**r) for r in doc["requests"]]
    for case in doc["cases"]:
        out = TemplateGenerator().generate(reqs, arm=doc["arm"], settings=case["settings"])
        assert [r.reason_id for r in out] == [g["reason_id"] for g in case["reasons"]]
        assert [r.text.encode() for r in out] == [g["text"].encode() for g in case["reasons"]]
        assert [r.settings_hash for r in out] == [g["settings_hash"] for g in case["reasons"]]
        assert [json.loads(json.dumps(r.features)) for r in out] == [g["features"] for g in case["reasons"]]
        assert all(r.arm == doc["arm"] and r.item_id == q.item_id and r.segment == q.segment
                   for r, q in zip(out, reqs, strict=True))
