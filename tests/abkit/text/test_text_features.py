"""Text features for the CTR-by-feature table."""

from __future__ import annotations

import pandas as pd

from abkit.text.features import text_features
from abkit.world.textlex import segment_top_aspect


def test_features(items):
    pairs = pd.DataFrame({
        "item_id": ["pb1", "pb1", "tee", "tee", "ghost"],
        "text": ["10000mAh大容量，轻薄好带", "最好的充电宝，限时8折", "纯棉夏天穿很舒服", "满199减30，到手价超香", "随便"],
        "segment": ["科技发烧友", "宝妈", "宝妈", "价格敏感", None],
    })
    f = text_features(pairs, pd.DataFrame(items), segment_aspect=segment_top_aspect).set_index("text")
    assert list(f["priority_aspect"].fillna("-")) == ["规格", "卖点", "材质", "价格", "-"]
    # 科技发烧友: 规格 10000mAh said; 宝妈: 卖点 轻薄 not said; 宝妈: 材质 100%纯棉 ⊃ 纯棉; 价格敏感: 到手价
    assert str(f["mentions_priority_aspect"].dtype) == "boolean"
    assert f["mentions_priority_aspect"].tolist()[:4] == [True, False, True, True]
    assert pd.isna(f.loc["随便", "mentions_priority_aspect"])
    assert list(f["mentions_promo"]) == [False, True, False, True, False]
    assert f["unfaithful"].tolist()[:4] == [False, True, False, False] and pd.isna(f.loc["随便", "unfaithful"])
    assert list(f["ad_law_violation"]) == [False, True, False, False, False]
    assert list(f["length_bucket"]) == ["S", "S", "S", "S", "other"]


def test_segments_argument(items):
    pairs = pd.DataFrame({"item_id": ["pb1"], "text": ["轻薄"]})
    f = text_features(pairs, pd.DataFrame(items), segments=["银发族"], segment_aspect=segment_top_aspect)
    assert f.loc[0, "segment"] == "银发族" and f.loc[0, "priority_aspect"] == "卖点"
    assert bool(f.loc[0, "mentions_priority_aspect"]) is True
