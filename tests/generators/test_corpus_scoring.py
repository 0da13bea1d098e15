"""The reference corpus of a fresh catalog (another seed, 15% corrupted reasons) scored in batch equals
the one-text checkers, pair for pair, including each text read against a random other item."""

from __future__ import annotations

import random

from abkit.text.items import items_by_id
from abkit.text.scoring import TextChecker
from abkit.world.catalog import make_catalog
from abkit.world.textlex import world_extension
from generators.corpus import build_corpus
from tests.abkit.text.test_text_batch import assert_same_as_one_by_one


def test_fresh_corpus_batch_equals_one_by_one():
    items = make_catalog(120, seed=41)
    corpus = build_corpus(items, seed=43, corrupt_rate=0.15)
    catalog = items_by_id(items)
    checker = TextChecker.build(catalog, world_extension())
    texts, ids = corpus["text"].tolist(), corpus["item_id"].astype(str).tolist()
    rng = random.Random(47)
    keys = list(catalog)
    texts += texts[:500]
    ids += [rng.choice(keys) for _ in range(500)]
    assert corpus["corrupted"].notna().sum() > 50
    assert_same_as_one_by_one(checker, texts, ids, catalog, jobs=2)
