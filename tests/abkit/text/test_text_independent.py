"""The text checks on a catalog abkit did not generate: frozen-test-part acceptance figures, normalization
rules, subjective claims, category compliance, the extension file, and the no-world-import contract."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from abkit.errors import AbkitError
from abkit.text.compliance import ComplianceChecker
from abkit.text.evaluation import evaluate, load_labelled
from abkit.text.extension import load_extension, parse_extension
from abkit.text.faithfulness import FaithfulnessChecker

DATA = Path(__file__).parent / "data" / "independent"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def catalog():
    return load_labelled(DATA)


def test_split_is_by_item_and_every_class_has_100_pairs(catalog):
    _items, pairs = catalog
    by_item = pairs.groupby("item_id")["split"].nunique()
    assert (by_item == 1).all()  # an item's pairs are all dev or all test
    counts = pairs.groupby("label").size()
    assert (counts[["faithful", "contradicting", "unsupported", "subjective", "banned"]] >= 100).all()
    assert counts["clean"] >= 300


def test_frozen_test_part_meets_the_bar(catalog):
    items, pairs = catalog
    test = pairs[pairs["split"] == "test"].reset_index(drop=True)
    f = evaluate(test, items).figures
    assert f["contradiction_precision"] >= 0.95 and f["contradiction_recall"] >= 0.90, f
    assert f["correct_flagged_unfaithful"] <= 0.01, f
    assert f["banned_recall"] == 1.0 and f["banned_fp_clean"] <= 0.005, f
    assert f["banned_fp_allowlist_texts"] == 0.0 and f["banned_fp_brand_texts"] == 0.0, f
    assert f["unsupported_on_subjective"] == 0.0, f


ITEM = {"item_id": "k", "category": "厨具", "brand": "至尊熊", "title": "至尊熊 保温杯", "price": 99.0, "discount": 0.2,
        "attributes": {"材质": "全棉", "容量": "0.5L", "重量": "1.5kg", "季节": "春秋款", "尺码": "NB码",
                       "适用月龄": "0-6个月", "适用人数": "3-4人", "保质期": "180天"}}


@pytest.mark.parametrize("text", ["500ml", "0.5升", "500毫升", "1500g", "1.5公斤", "3斤", "8折", "八折", "立减20%",
                                  "¥99", "99元", "原价99块", "纯棉", "100%棉", "春秋季", "春秋", "NB号", "0~6个月",
                                  "0到6个月", "3人", "保质期6个月", "保质期半年", "ＮＢ码"])
def test_same_fact_in_other_spellings_is_supported(text):
    r = FaithfulnessChecker([ITEM]).check(text, ITEM)
    assert not r.contradicted and r.supported, (text, r)


@pytest.mark.parametrize("text", ["750ml", "1L", "1kg", "2斤", "7折", "¥129", "冬季款", "M码", "6-12个月", "2人",
                                  "保质期一年"])
def test_other_values_of_the_same_attribute_contradict(text):
    # categorical values are known from the catalog: another item holds 冬季款 and 6-12个月
    other = {"item_id": "o", "attributes": {"季节": "冬季款", "适用月龄": "6-12个月"}}
    r = FaithfulnessChecker([ITEM, other]).check(text, ITEM)
    assert r.contradicted, (text, r)


def test_values_mined_from_the_items_table():
    other = {**ITEM, "item_id": "j", "attributes": {"材质": "铸铁"}}
    faith = FaithfulnessChecker([ITEM, other])
    assert [c.surface for c in faith.check("铸铁打造", ITEM).contradicted] == ["铸铁"]  # another item's value
    assert faith.check("铸铁打造", other).supported


def test_unmentioned_and_missing_attributes():
    faith = FaithfulnessChecker([ITEM, {"item_id": "x", "attributes": {"产地": "云南"}}])
    r = faith.check("好用，推荐", ITEM)
    assert not (r.contradicted or r.unsupported or r.supported)  # says nothing checkable
    r = faith.check("产自云南，IPX7防水", ITEM)  # the item has no 产地 and states no waterproofing
    assert not r.contradicted and {c.surface for c in r.unsupported} == {"云南", "IPX7"}


@pytest.mark.parametrize("word", ["简约", "显瘦", "通勤", "百搭", "高级感", "氛围感", "ins风", "治愈系"])
def test_subjective_words_are_never_unsupported(word):
    r = FaithfulnessChecker([ITEM]).check(f"{word}，0.5L", ITEM)
    assert not r.unsupported and not r.contradicted and [c.surface.lower() for c in r.subjective] == [word.lower()]


def test_style_key_values_the_item_lacks_are_subjective():
    styled = {"item_id": "s", "attributes": {"风格": "北欧风"}}
    faith = FaithfulnessChecker([ITEM, styled])
    assert faith.check("北欧风设计", styled).supported
    r = faith.check("北欧风设计", ITEM)
    assert not r.unsupported and r.subjective


def test_category_compliance_rules():
    comp = ComplianceChecker()
    snack = {"item_id": "a", "category": "零食"}
    tent = {"item_id": "b", "category": "户外装备"}
    assert [m.term for m in comp.check("增强免疫力", snack)] == ["增强免疫力"]
    assert comp.check("增强免疫力", tent) == []  # a health claim rule for food / cosmetics / baby only
    assert [m.category for m in comp.check("治疗失眠", tent)] == ["medical"]  # medical claims: every category
    assert [m.term for m in comp.check("最畅销之一", tent)] == ["最畅销"]  # 之一 does not soften a superlative
    assert comp.check("治愈系配色", snack) == [] and comp.check("100%纯棉", tent) == []
    assert comp.check("至尊熊保温杯", ITEM) == []  # the item's own brand
    assert [m.term for m in comp.check("至尊享受", ITEM)] == ["至尊"]


def test_extension_file(tmp_path):
    path = tmp_path / "lex.yaml"
    path.write_text("synonyms:\n  - [生铁, 铸铁锅]\nvalues:\n  材质: [玄武岩纤维]\nsubjective: [松弛感]\n"
                    "compliance:\n  allow: [至尊享受]\n  category_rules:\n    outdoor: {applies_to: [户外], terms: [永不破损]}\n",
                    encoding="utf-8")
    ext = load_extension(path)
    assert ext is not None
    assert not FaithfulnessChecker([ITEM]).check("玄武岩纤维", ITEM).contradicted  # unknown value: nothing said
    faith = FaithfulnessChecker([ITEM], extension=ext)
    assert [c.surface for c in faith.check("玄武岩纤维", ITEM).contradicted] == ["玄武岩纤维"]
    assert faith.check("松弛感", ITEM).subjective
    comp = ComplianceChecker(extension=ext)
    assert comp.check("至尊享受", ITEM) == []
    assert [m.term for m in comp.check("永不破损", {"item_id": "t", "category": "户外装备"})] == ["永不破损"]


@pytest.mark.parametrize("doc, message", [
    ({"synonym": []}, "unknown key"),
    ({"values": {"材质": "钛合金"}}, "values.材质 must be a list"),
    ({"compliance": {"alow": []}}, "unknown compliance key"),
])
def test_extension_errors_name_the_key(doc, message):
    with pytest.raises(AbkitError, match=message):
        parse_extension(doc)


def test_extension_file_errors(tmp_path):
    with pytest.raises(AbkitError, match="not found"):
        load_extension(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("values: [", encoding="utf-8")
    with pytest.raises(AbkitError, match="not valid YAML"):
        load_extension(bad)


def test_abkit_text_never_imports_the_world():
    for path in (ROOT / "abkit" / "text").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "abkit.world" or n.startswith("abkit.world.") for n in names), path
