"""The streamed population: same draws as all at once, whatever the block or frame size, read lazily."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abkit.spec import parse_spec
from abkit.warehouse import connect
from abkit.world.catalog import make_catalog
from experiments.simulate import pipeline
from experiments.simulate.population import make_users
from experiments.simulate.traffic import SimOptions, build_world, chunk_tables, iter_chunks
from experiments.simulate.users import PairwiseSum, UserBlock, UserSource

SPEC = parse_spec({
    "key": "users_test", "start": "2026-11-01", "end": "2026-11-04", "timezone": "Asia/Shanghai",
    "primary_metric": "ctr", "arms": [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}],
})


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return make_catalog(200, seed=4)


@pytest.mark.parametrize("n", [1, 7, 128, 129, 1000, 10_007])
def test_pairwise_sum_equals_numpy_sum_bit_for_bit(n):
    rng = np.random.default_rng(n)
    values = rng.lognormal(0.0, 3.0, n)  # a wide range: a different summation order shows in the last bits
    acc = PairwiseSum(n, leaf=128)
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(5, n - 1), replace=False)) if n > 1 else []
    for piece in np.split(values, cuts):
        acc.add(piece)
    assert acc.total() == np.sum(values)


def test_pairwise_sum_refuses_a_short_feed():
    acc = PairwiseSum(300, leaf=128)
    acc.add(np.ones(200))
    with pytest.raises(ValueError):
        acc.total()


def _all_at_once(users: pd.DataFrame, seed: int, n_bots: int) -> dict[str, np.ndarray]:
    """The per-user draws as the simulator made them before streaming: one generator, everyone at once."""
    rng = np.random.default_rng([seed, 7])
    n = len(users)
    activity = users["activity"].to_numpy(float)
    click = users["click_propensity"].to_numpy(float) * rng.lognormal(-0.5 * 0.3**2, 0.3, n)
    buy = rng.lognormal(-0.125, 0.5, n + n_bots)
    srm = rng.random(n + n_bots)
    return {"activity": activity / activity.mean(), "click": click, "buy": buy, "srm": srm,
            "quality_rng": rng}


def test_streamed_users_equal_the_all_at_once_draws(items):
    users = make_users(2500, seed=3)
    opt = SimOptions(seed=8, bots=3, srm_bug=0.3, chunk_users=700)
    world = build_world(SPEC, UserSource.generated(2500, seed=3), items, None, opt)
    got = world.population.materialize()
    ref = _all_at_once(users, opt.seed, opt.bots)
    n = len(users)
    assert got.ids.to_pylist()[:n] == users["user_id"].tolist()
    assert np.array_equal(got.activity[:n], ref["activity"])  # exact: the mean is numpy's own sum
    assert np.array_equal(got.click[:n], ref["click"])
    assert np.array_equal(got.buy, ref["buy"])
    lost = got.arm == -2
    assert lost.any() and np.all(ref["srm"][lost] < opt.srm_bug)
    assert got.is_bot[n:].all() and not got.is_bot[:n].any()
    # the catalog's draws come after every user's: the generator was advanced past them all
    assert np.array_equal(world.item_quality, ref["quality_rng"].lognormal(-0.045, 0.3, len(world.item_quality)))


@pytest.mark.parametrize("size", [1, 333, 1000, 5000])
def test_blocks_do_not_depend_on_block_or_frame_size(items, size):
    users = make_users(1800, seed=1)
    opt = SimOptions(seed=2, bots=2, srm_bug=0.1)
    one = build_world(SPEC, users, items, None, opt).population.materialize()
    framed = UserSource(len(users), lambda: (users.iloc[lo:lo + 250] for lo in range(0, len(users), 250)))
    population = build_world(SPEC, framed, items, None, opt).population
    blocks = list(population.blocks(size))
    again = UserBlock.concat(list(population.blocks(size)))  # a second pass draws the same again
    assert np.array_equal(again.buy, one.buy) and np.array_equal(again.arm, one.arm)
    assert all(len(b) == size for b in blocks[:-1]) and [b.start for b in blocks] == list(range(0, one.__len__(), size))
    got = UserBlock.concat(blocks)
    for name in ("seg", "persona", "activity", "click", "buy", "history", "arm", "is_bot", "platform"):
        assert np.array_equal(getattr(got, name), getattr(one, name)), name
    assert got.ids.equals(one.ids)


def test_chunks_are_simulated_while_the_source_is_read(items):
    """Bounded memory: the first chunk is out before the source has yielded more than it needs."""
    users = make_users(3000, seed=2)
    read: list[int] = []

    def frames():
        for lo in range(0, len(users), 500):
            read.append(lo)
            yield users.iloc[lo:lo + 500]

    world = build_world(SPEC, UserSource(len(users), frames), items, None, SimOptions(seed=1, chunk_users=500))
    read.clear()  # planning read everything once; simulating reads again, lazily
    chunks = iter_chunks(world)
    first = next(chunks)
    assert read in ([0], [0, 500])  # the frame for chunk 0, one ahead at most: not all six
    exposures, _ = chunk_tables(world, first)
    assert set(exposures.column("user_id").to_pylist()) <= set(users["user_id"].iloc[:500])
    assert sum(1 for _ in chunks) == 5


def test_warehouse_users_come_in_user_id_order_in_batches(tmp_path, monkeypatch):
    """The users table read in Arrow batches, in user_id order (the warehouse does not preserve insertion
    order, and batches of a plain DB-API result can come out of order) and with the old column rule:
    an attribute that some user lacks is dropped for everyone."""
    con = connect(tmp_path / "w.duckdb")
    users = make_users(20_000, seed=4).sample(frac=1.0, random_state=1)  # stored shuffled
    users.loc[users.index[7], "activity"] = np.nan
    path = tmp_path / "users.parquet"
    users.to_parquet(path, index=False)
    pipeline._ingest(con, "users", [str(path)])
    monkeypatch.setattr(pipeline, "USER_BATCH_ROWS", 1000)
    source = pipeline.load_users(con, 15_000)
    frames = list(source.frames())
    assert source.n == 15_000 and max(len(f) for f in frames) <= 1000
    got = pd.concat(frames, ignore_index=True)
    assert got["user_id"].tolist() == sorted(users["user_id"])[:15_000]
    assert "activity" not in got.columns and "click_propensity" in got.columns
    con.close()
