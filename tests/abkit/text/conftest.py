"""Shared fixtures for the text-metric tests: a few hand-written catalog items and checkers."""

from __future__ import annotations

import pytest

from abkit.text.compliance import ComplianceChecker
from abkit.text.faithfulness import FaithfulnessChecker
from abkit.world.textlex import world_extension

ITEMS = [
    {"item_id": "pb1", "category": "数码", "brand": "澜屿", "title": "澜屿 轻薄充电宝", "price": 129.0, "discount": 0.0,
     "attributes": {"规格": "10000mAh", "卖点": "轻薄", "发货": "24小时发货"}},
    {"item_id": "tee", "category": "服饰", "brand": "禾森", "title": "禾森 纯棉T恤", "price": 199.0, "discount": 0.2,
     "attributes": {"材质": "100%纯棉", "季节": "夏季", "颜色": "白色", "促销": "满199减30"}},
    {"item_id": "sun", "category": "美妆", "brand": "素语", "title": "素语 清爽防晒乳", "price": 89.0, "discount": 0.0,
     "attributes": {"功效": "SPF50+", "规格": "50ml", "质地": "清爽"}},
    {"item_id": "case", "category": "数码", "brand": "知象", "title": "知象 iPhone15手机壳", "price": 39.9, "discount": 0.0,
     "attributes": {"规格": "6.1英寸", "卖点": "防摔"}},
    {"item_id": "best", "category": "食品", "brand": "最佳", "title": "最佳 云南咖啡", "price": 59.0, "discount": 0.1,
     "attributes": {"产地": "云南", "口味": "浓郁"}},
]


@pytest.fixture(scope="session")
def items() -> list[dict]:
    return [dict(it) for it in ITEMS]


@pytest.fixture(scope="session")
def item(items):
    by_id = {it["item_id"]: it for it in items}
    return by_id.__getitem__


@pytest.fixture(scope="session")
def compliance() -> ComplianceChecker:
    return ComplianceChecker()


@pytest.fixture(scope="session")
def faith(items) -> FaithfulnessChecker:
    """Mined from the five items plus the synthetic world's vocabulary (they are world-like items)."""
    return FaithfulnessChecker(items, extension=world_extension())
