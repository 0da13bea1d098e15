"""One scoring pass shared by the text blocks (abkit.text.shared_scores): each caller gets exactly the
scores it would have computed itself."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from abkit.text.arm_metrics import arm_text_metrics
from abkit.text.faithfulness import FaithfulnessChecker
from abkit.text.features import feature_columns
from abkit.text.items import items_by_id
from abkit.text.scoring import PairScores, score_pairs
from abkit.text.shared_scores import SharedScores
from abkit.world.textlex import segment_top_aspect

PAIRS = [  # contradicted, unsupported, banned, clean and unknown-item pairs, some texts on two items
    ("pb1", "20000mAh大容量，最好的充电宝"), ("tee", "纯棉夏天穿很舒服"), ("tee", "满199减30，到手价超香"),
    ("pb1", "轻薄好带，限时8折"), ("sun", "SPF30防晒，国家级品质"), ("case", "防摔手机壳，6.7英寸"),
    ("ghost", "随便"), ("sun", "纯棉夏天穿很舒服"), ("best", "云南咖啡，口味浓郁，第一品牌"), ("case", "轻薄好带，限时8折"),
]


def _same(a: PairScores, b: PairScores) -> None:
    for f in dataclasses.fields(PairScores):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        elif f.name == "categories":
            assert x.keys() == y.keys() and all(np.array_equal(x[c], y[c]) for c in x)
        else:
            assert x == y, f.name


def test_take_is_the_subset_scored_alone(items):
    """A subset in another order gets the scores (and claim lists, renumbered to its own rows) of scoring
    it alone. Catches claim lists kept under the pass' row numbers, or arrays not reordered."""
    shared = SharedScores.score([i for i, _ in PAIRS] * 2, [t for _, t in PAIRS] * 2, pd.DataFrame(items))
    assert len(shared.pairs) == len(PAIRS)  # each distinct pair scored once
    subset = PAIRS[::-3] + PAIRS[1:4]
    ids, texts = [i for i, _ in subset], [t for _, t in subset]
    alone = score_pairs(texts, ids, shared.catalog, faithfulness=shared.faithfulness, keep_supported=True)
    assert alone.contradicted and alone.unsupported_claims and alone.matches and alone.supported_claims
    _same(shared.take(ids, texts), alone)
    _same(shared.take(["tee", "nope"], ["纯棉夏天穿很舒服", "x"]),  # a pair not scored: scored now
          score_pairs(["纯棉夏天穿很舒服", "x"], ["tee", "nope"], shared.catalog, keep_supported=True))


def test_the_blocks_get_their_own_results(items):
    """arm_text_metrics (examples from the claim lists) and feature_columns with the shared pass equal
    their own scoring. Catches e.g. an arm's examples read from another arm's rows."""
    frame = pd.DataFrame(PAIRS, columns=["item_id", "text"]).assign(segment=["宝妈", "价格敏感"] * 5, exposures=3)
    arms = {"a": frame.iloc[:6].reset_index(drop=True), "b": frame.iloc[4:].iloc[::-1].reset_index(drop=True)}
    shared = SharedScores.score(frame["item_id"].tolist(), frame["text"].tolist(), pd.DataFrame(items))
    catalog = items_by_id(pd.DataFrame(items))
    faith = FaithfulnessChecker(catalog.values())
    for pairs in arms.values():
        own = arm_text_metrics(pairs, catalog, seed="s", sample_n=4, faithfulness=faith)
        assert own["examples"]["unfaithful"] or own["examples"]["unsupported"]
        assert arm_text_metrics(pairs, catalog, seed="s", sample_n=4, shared=shared) == own
        args = (pairs["item_id"].tolist(), pairs["text"].tolist(), pairs["segment"].tolist(), catalog)
        pd.testing.assert_frame_equal(feature_columns(*args, segment_top_aspect, shared=shared),
                                      feature_columns(*args, segment_top_aspect, faith))
