"""The shipped model behind the generator protocol: loads, writes valid Chinese, deterministic."""

import json
import re

import pytest
from typer.testing import CliRunner

from generators.base import Generator, ReasonRequest, reason_keys

pytestmark = pytest.mark.slow  # loads the shipped model and compiles its decoder (~10-20 s on 2 cores)

CJK = re.compile(r"[\u4e00-\u9fff]")
SURFACE = re.compile(r"[\u4e00-\u9fff0-9A-Za-z.%+¥×\-，、。！：]+")  # Chinese text, values, punctuation


@pytest.fixture(scope="module")
def gen():
    from generators.neural.generator import NeuralGenerator

    return NeuralGenerator(batch_size=32)


@pytest.fixture(scope="module")
def requests():
    from abkit.world.catalog import make_catalog

    items = make_catalog(6, seed=123)
    return [ReasonRequest(r.item_id, r.category, r.brand, r.title, float(r.price), float(r.discount),
                          json.loads(r.attributes), seg, length)
            for r, length in zip(items.itertuples(), "SMLMSM", strict=True) for seg in ("学生党", "宝妈")]


SETTINGS = {"type": "neural", "temperature": 0.8, "top_k": 0, "top_p": 0.95, "repetition_penalty": 1.2,
            "num_candidates": 4, "max_new_tokens": 64, "constrained": True, "personalized": True, "seed": 0}


def test_shipped_model_writes_valid_chinese_reasons(gen, requests):
    from abkit.text.compliance import default_checker

    assert isinstance(gen, Generator) and gen.model_version.startswith("reason_v1-")
    assert gen.metadata["params"] <= 3_000_000
    out = gen.generate(requests, arm="neural", settings=SETTINGS)
    assert [r.reason_id for r in out] == reason_keys(requests, arm="neural", model_version=gen.model_version,
                                                     settings=SETTINGS)
    for r in out:
        assert SURFACE.fullmatch(r.text) and len(CJK.findall(r.text)) >= 4, r.text
        assert r.features["ai_generated"] and r.generator == "neural"
    for r, q in zip(out, requests, strict=True):
        assert not default_checker().check(r.text, q), r.text
    assert sum(r.features["passed_filter"] for r in out) >= 0.8 * len(out)


def test_same_request_same_text_alone_or_in_another_batch(gen, requests):
    together = gen.generate(requests, arm="neural", settings=SETTINGS)
    alone = gen.generate(requests[3:4], arm="neural", settings=SETTINGS)
    assert alone[0].text == together[3].text and alone[0].reason_id == together[3].reason_id
    reordered = gen.generate(requests[::-1], arm="neural", settings=SETTINGS)
    assert [r.text for r in reordered[::-1]] == [r.text for r in together]


def test_not_personalized_conditions_on_no_persona(gen, requests):
    s = {**SETTINGS, "personalized": False}
    a, b = requests[0], requests[1]  # same item, different segment
    ids = reason_keys([a], arm="x", model_version=gen.model_version, settings=s)
    texts_a, _ = gen.sample([a], ids, s)
    texts_b, _ = gen.sample([b], ids, s)  # the same random stream: only the segment differs
    assert texts_a == texts_b
    personal_b, _ = gen.sample([b], ids, SETTINGS)
    assert personal_b != texts_a


def test_train_generator_cli_end_to_end(tmp_path):
    from abkit.cli import app

    out = tmp_path / "m"
    res = CliRunner().invoke(app, ["train-generator", "--out", str(out), "--corpus-items", "30", "--steps", "4",
                                   "--d-model", "16", "--layers", "1", "--heads", "2", "--heldout-items", "0.3",
                                   "--no-evaluate"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert meta["recipe"]["corpus_items"] == 30 and meta["training"]["steps"] == 4
    assert meta["validation"]["heldout_items"]["char_perplexity"] > 1
    assert not (out / "checkpoint.weights.h5").exists()
    bad = CliRunner().invoke(app, ["train-generator", "--out", str(out), "--d-model", "10", "--heads", "4"])
    assert bad.exit_code == 2 and "divisible" in bad.output
