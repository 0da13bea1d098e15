"""The synthetic world's catalog (determinism, schema, realism checks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abkit.world import vocab
from abkit.world.catalog import make_catalog, write_catalog


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    return make_catalog(3000, seed=7)


def test_catalog_deterministic(catalog: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(catalog, make_catalog(3000, seed=7))
    assert not make_catalog(3000, seed=8)["attributes"].equals(catalog["attributes"])


def test_catalog_schema(catalog: pd.DataFrame) -> None:
    for col in ("item_id", "category", "brand", "title", "price", "discount", "attributes", "subcategory"):
        assert col in catalog.columns
    assert catalog["item_id"].is_unique and catalog["item_id"].str.fullmatch(r"i\d{6}").all()
    assert catalog["item_id"].iloc[123] == "i000123"
    assert set(catalog["category"]) == set(vocab.CATEGORIES)
    assert catalog["price"].dtype == np.float64 and catalog["discount"].dtype == np.float64
    assert set(catalog["discount"]) <= {0.0, *vocab.DISCOUNTS}
    assert catalog["brand"].str.len().eq(2).all()
    assert catalog["title"].str.contains(r"[\u4e00-\u9fff]").all()


def test_catalog_prices_in_band_and_shop_rounded(catalog: pd.DataFrame) -> None:
    for cat, spec in vocab.CATEGORIES.items():
        p = catalog.loc[catalog["category"] == cat, "price"]
        lo, hi = spec["price_band"]
        assert p.min() >= lo - 1e-9 and p.max() <= hi * 1.15
        assert p.median() > lo * 1.5  # log-uniform, not piled at the floor
    tenths = np.round(catalog["price"] * 10).astype(int)
    assert ((tenths % 10 == 9) | (tenths % 100 == 90)).all()  # 12.9 / 78.9 / 79 / 399


def test_catalog_attributes_typed_and_consistent(catalog: pd.DataFrame) -> None:
    for cat, sub, disc, raw in zip(catalog["category"], catalog["subcategory"], catalog["discount"],
                                   catalog["attributes"], strict=True):
        attrs = json.loads(raw)
        allowed = vocab.subcategory_attributes(cat, sub)
        for name, value in attrs.items():
            if name in allowed:
                assert value in allowed[name]
            elif name in vocab.SHARED_ATTRIBUTES:
                assert value in vocab.SHARED_ATTRIBUTES[name]
            else:
                assert name == vocab.PROMO_ATTRIBUTE and value in vocab.render_promos()
        assert "评分" in attrs and "月销" in attrs
        if disc > 0:
            assert attrs[vocab.PROMO_ATTRIBUTE] == vocab.discount_text(disc)
        assert sub in vocab.CATEGORIES[cat]["subcategories"]
    promo_share = catalog["attributes"].str.contains('"促销"').mean()
    assert 0.45 < promo_share < 0.8


def test_catalog_parquet_round_trip(tmp_path: Path, catalog: pd.DataFrame) -> None:
    path = write_catalog(catalog, tmp_path / "items.parquet")
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, catalog)


@pytest.mark.slow
def test_million_item_catalog_is_fast() -> None:
    import time

    t0 = time.perf_counter()
    df = make_catalog(1_000_000, seed=1)
    assert len(df) == 1_000_000 and df["item_id"].is_unique
    assert time.perf_counter() - t0 < 60
