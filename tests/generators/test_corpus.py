"""The reference corpus: determinism, schema, length buckets, gold labels, corruptions, hold-outs."""

from __future__ import annotations

import json

import ahocorasick
import pandas as pd
import pytest

from abkit.world import vocab
from abkit.world.catalog import make_catalog
from generators.corpus import (
    COLUMNS,
    CTA_TEMPLATES,
    FEATURE_TEMPLATES,
    PROMO_TEMPLATES,
    SCENE_TEMPLATES,
    _combo_heldout,
    _parse_attributes,
    build_corpus,
    corpus_stats,
    distinct_n,
    heldout_templates,
    item_facts,
)

HOLDOUT = 0.2


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return make_catalog(300, seed=5)


@pytest.fixture(scope="module")
def corpus(items: pd.DataFrame) -> pd.DataFrame:
    return build_corpus(items, seed=1, corrupt_rate=0.15, holdout_templates=HOLDOUT)


@pytest.fixture(scope="module")
def facts(items: pd.DataFrame) -> dict[str, dict[str, str]]:
    return {i: item_facts(p, d, _parse_attributes(a))
            for i, p, d, a in zip(items.item_id, items.price, items.discount, items.attributes, strict=True)}


def _automaton(words) -> ahocorasick.Automaton:
    a = ahocorasick.Automaton()
    for w in words:
        a.add_word(w, w)
    a.make_automaton()
    return a


def test_schema(corpus: pd.DataFrame, items: pd.DataFrame) -> None:
    assert list(corpus.columns) == COLUMNS
    assert len(corpus) >= 0.98 * len(items) * 12
    assert set(corpus["segment"]) == set(vocab.SEGMENTS)
    assert set(corpus["length"]) == {"S", "M", "L"}
    assert set(corpus["split"]) == {"train", "heldout"}
    assert set(corpus["corrupted"].dropna()) == {"wrong_value", "invented_spec", "banned_term", "fake_discount"}
    assert corpus["mentions_promo"].dtype == bool and corpus["persona_aspect_hit"].dtype == bool
    assert all(isinstance(json.loads(m), list) for m in corpus["mentions"])
    assert corpus["corrupted"].notna().mean() == pytest.approx(0.15, abs=0.03)


def test_deterministic_and_row_independent(corpus: pd.DataFrame, items: pd.DataFrame) -> None:
    again = build_corpus(items, seed=1, corrupt_rate=0.15, holdout_templates=HOLDOUT)
    pd.testing.assert_frame_equal(corpus, again)
    other = build_corpus(items.iloc[:50], seed=2)
    assert not other["text"].isin(set(corpus["text"])).all()
    # A row depends only on (seed, item, persona, k), not on which other items are present.
    part = build_corpus(items.iloc[100:130], seed=1, corrupt_rate=0.15, holdout_templates=HOLDOUT)
    full = corpus[corpus["item_id"].isin(set(part["item_id"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, full)


def test_length_buckets_enforced(corpus: pd.DataFrame) -> None:
    n = corpus["text"].str.len()
    for name, (lo, hi) in vocab.LENGTH_BUCKETS.items():
        sel = corpus["length"] == name
        assert sel.sum() > 0.25 * len(corpus)
        assert n[sel].between(lo, hi).all(), name


def test_gold_mentions_verbatim_and_complete(corpus: pd.DataFrame) -> None:
    lexicon = _automaton(set().union(*vocab.value_lexicon().values()))
    for text, mentions, corrupted in zip(corpus["text"], corpus["mentions"], corpus["corrupted"], strict=True):
        values = [v for _, v in json.loads(mentions)]
        assert values, text
        for v in values:
            assert v in text, (v, text)
        if corrupted is None:
            # No catalog value appears that the labels do not account for (templates never smuggle one in).
            for _, found in lexicon.iter(text):
                assert any(found in v for v in values), (found, text)


def test_clean_rows_are_faithful_and_compliant(corpus: pd.DataFrame, facts) -> None:
    banned = _automaton(vocab.ABSOLUTE_TERMS)
    clean = corpus[corpus["corrupted"].isna()]
    for item_id, text, mentions in zip(clean["item_id"], clean["text"], clean["mentions"], strict=True):
        for attr, value in json.loads(mentions):
            assert facts[item_id].get(attr) == value, (attr, value, text)
        assert not list(banned.iter(text)), text


def test_corrupted_rows_are_what_they_claim(corpus: pd.DataFrame, facts) -> None:
    banned = _automaton(vocab.ABSOLUTE_TERMS)
    bad = corpus[corpus["corrupted"].notna()]
    assert bad["corrupted"].value_counts().min() >= 20
    for item_id, text, mentions, kind in zip(bad["item_id"], bad["text"], bad["mentions"], bad["corrupted"],
                                             strict=True):
        f = facts[item_id]
        m = json.loads(mentions)
        if kind == "wrong_value":
            assert any(a in f and f[a] != v for a, v in m), text
        elif kind == "invented_spec":
            assert any(a not in f for a, _ in m), text
        elif kind == "banned_term":
            assert list(banned.iter(text)), text
        elif kind == "fake_discount":
            promos = [v for a, v in m if a == vocab.PROMO_ATTRIBUTE]
            assert promos and promos[0] != f.get(vocab.PROMO_ATTRIBUTE), text


def test_holdout_templates_and_combinations(corpus: pd.DataFrame, items: pd.DataFrame, facts) -> None:
    held = heldout_templates(HOLDOUT, seed=1)
    assert held and all(len(v) >= 1 for v in held.values())
    held_ids = {f"{pool}.{i}" for pool, idx in held.items() for i in idx}
    combo_items = {i for i, c in zip(items.item_id, items.category, strict=True)
                   if _combo_heldout(c, facts[i], HOLDOUT / 2, 1)}
    assert combo_items
    train = corpus[corpus["split"] == "train"]
    for ids in train["template_ids"]:
        assert not any(t in held_ids for t in ids.split("|")), ids
    assert not train["item_id"].isin(combo_items).any()
    heldout = corpus[corpus["split"] == "heldout"]
    for item_id, ids in zip(heldout["item_id"], heldout["template_ids"], strict=True):
        assert item_id in combo_items or any(t in held_ids for t in ids.split("|"))
    assert 0.1 < len(heldout) / len(corpus) < 0.35


def test_persona_ordering_shows_in_mentions(corpus: pd.DataFrame) -> None:
    clean = corpus[corpus["corrupted"].isna()]

    def share(persona: str, attr: str) -> float:
        rows = clean[clean["segment"] == persona]["mentions"]
        return sum(any(a == attr for a, _ in json.loads(m)) for m in rows) / len(rows)

    assert share("价格敏感", "价格") > share("科技发烧友", "价格") + 0.3
    assert share("注重品质", "材质") > share("价格敏感", "材质") + 0.1
    assert clean["persona_aspect_hit"].mean() > 0.7
    generic = build_corpus(make_catalog(40, seed=9), personas=[None])
    assert generic["segment"].isna().all() and not generic["persona_aspect_hit"].any()


def test_templates_carry_no_values_or_banned_terms() -> None:
    lexicon = _automaton(set().union(*vocab.value_lexicon().values()) | set(vocab.ABSOLUTE_TERMS))
    fixed = [t.replace("{v}", "|") for tpls in FEATURE_TEMPLATES.values() for t in tpls]
    fixed += [t.replace("{v}", "|") for t in PROMO_TEMPLATES] + SCENE_TEMPLATES + CTA_TEMPLATES
    for p in vocab.PERSONAS.values():
        fixed += p["hooks"] + p["scenes"]
    for t in fixed:
        assert not list(lexicon.iter(t)), t
    assert all(5 <= len(t) <= 15 for t in FEATURE_TEMPLATES.values())


def test_stats_and_distinct_n(corpus: pd.DataFrame) -> None:
    assert distinct_n(["ab ab"], 2) == pytest.approx(2 / 3)  # ab, ba, ab (whitespace removed)
    assert distinct_n(["aaa"], 1) == pytest.approx(1 / 3)
    st = corpus_stats(corpus)
    assert st["size"] == len(corpus)
    assert st["distinct_surfaces"] > 0.97 * len(corpus)
    assert 0 < st["distinct_1"] < st["distinct_2"] < st["distinct_3"] < 1
