"""The quality-bar tools: the gold-label faithfulness judge and the personalization gap."""

import json

import numpy as np
import pandas as pd
import pytest

from generators.corpus import build_corpus, item_facts
from generators.neural.evaluate import GoldJudge, personalization_gap


@pytest.fixture(scope="module")
def labelled():
    from abkit.world.catalog import make_catalog

    items = make_catalog(150, seed=21)
    corpus = build_corpus(items, per_pair=1, seed=4, corrupt_rate=0.4)
    return items.set_index("item_id"), corpus


def test_gold_judge_is_clean_on_reference_and_flags_corruptions(labelled):
    items, corpus = labelled
    judge = GoldJudge()
    flags = []
    for item_id, text in zip(corpus["item_id"], corpus["text"], strict=True):
        it = items.loc[item_id]
        facts = item_facts(it["price"], it["discount"], json.loads(it["attributes"]))
        flags.append(bool(judge.judge(text, facts, it["title"] + it["brand"])["contradicted"]))
    corpus = corpus.assign(flag=flags)
    rate = corpus.groupby(corpus["corrupted"].fillna("clean"))["flag"].mean()
    assert rate["clean"] == 0.0
    assert rate["wrong_value"] > 0.95 and rate["fake_discount"] > 0.95


def test_gold_judge_price_and_promo():
    judge = GoldJudge()
    facts = {"价格": "79", "促销": "满199减30", "材质": "纯棉"}
    assert not judge.judge("纯棉材质，到手79元，满199减30", facts)["contradicted"]
    assert judge.judge("到手89元", facts)["contradicted"] == ["89元"]
    assert judge.judge("今天8折", facts)["contradicted"] == ["8折"]
    assert judge.judge("真丝面料", facts)["contradicted"] == ["真丝"]
    assert judge.judge("主打补水保湿", facts)["unsupported"] == ["补水保湿"]


def _frame(rows):
    return pd.DataFrame(rows, columns=["item_id", "segment", "text"])


def test_personalization_gap_detects_persona_dependence_and_not_noise():
    rng = np.random.default_rng(0)
    alphabet = list("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉")
    word = lambda: "".join(rng.choice(alphabet, size=6))  # noqa: E731
    personal, noise = [], []
    for i in range(40):
        base = {s: word() for s in "ABCD"}
        for s in "ABCD":
            for _ in range(4):
                personal.append((i, s, base[s] + word()[:2]))  # shared per persona
                noise.append((i, s, word() + word()))  # independent of the persona
    p = personalization_gap(_frame(personal))
    assert p["passes"] and p["within_persona_jaccard"] > p["across_persona_jaccard"]
    n = personalization_gap(_frame(noise))
    assert n["ci95"][0] <= 0 <= n["ci95"][1] and not n["passes"]
