"""The simulated user population (determinism, schema, realism checks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from abkit.world import vocab
from experiments.simulate.population import iter_users, make_users, write_users


def test_users(tmp_path: Path) -> None:
    users = make_users(20_000, seed=3)
    pd.testing.assert_frame_equal(users, make_users(20_000, seed=3))
    assert users["user_id"].iloc[123] == "u0000123" and users["user_id"].is_unique
    assert set(users["segment"]) == set(vocab.SEGMENTS)
    assert set(users["platform"]) == {"ios", "android", "web", "miniapp"}
    assert users["is_new"].dtype == bool and 0.15 < users["is_new"].mean() < 0.25
    act = users["activity"]
    assert (act > 0).all() and act.quantile(0.999) > 10 * act.median()  # heavy tail
    assert (users.loc[users["is_new"], "pre_sessions"] == 0).all()
    ret = users.loc[~users["is_new"]]
    assert np.corrcoef(ret["activity"], ret["pre_sessions"])[0, 1] > 0.5
    # Chunked streaming gives the same users as one frame.
    pd.testing.assert_frame_equal(pd.concat(list(iter_users(20_000, seed=3, chunk_size=7_000)), ignore_index=True),
                                  users)
    path = write_users(20_000, tmp_path / "users.parquet", seed=3)
    pd.testing.assert_frame_equal(pd.read_parquet(path), users)
