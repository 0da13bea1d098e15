"""A synthetic user population (docs/interface.md, Data `users`: user_id, segment plus tag columns).

Columns: user_id ("u0000123"), segment (one of the 12 personas), platform (ios / android /
web / miniapp), is_new, activity (a heavy-tailed lognormal rate: expected sessions per day),
click_propensity (a per-user multiplier of click odds, lognormal around 1) and pre_sessions
(sessions in the 28 days before an experiment, 0 for new users; the simulator draws the
pre-period events behind it). Built in vectorized chunks, so 10M users take seconds and each
chunk's content does not depend on the chunk size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from abkit.world import vocab

SEGMENT_SHARE: dict[str, float] = {
    "价格敏感": 0.16, "追求时尚": 0.10, "注重品质": 0.09, "宝妈": 0.08, "学生党": 0.10, "上班族": 0.13,
    "健身爱好者": 0.05, "银发族": 0.06, "户外爱好者": 0.04, "颜值党": 0.07, "科技发烧友": 0.06, "养生派": 0.06,
}
PLATFORM_SHARE: dict[str, float] = {"android": 0.45, "ios": 0.33, "miniapp": 0.16, "web": 0.06}
NEW_USER_RATE = 0.2
PRE_PERIOD_DAYS = 28
CHUNK = 1_000_000


def _chunk(start: int, stop: int, seed: int, width: int) -> pd.DataFrame:
    """Users [start, stop): the chunk's stream is seeded by (seed, start) so chunks are independent."""
    n = stop - start
    rng = np.random.default_rng([seed, start])
    segs = list(vocab.SEGMENTS)
    seg_p = np.array([SEGMENT_SHARE[s] for s in segs])
    plats = list(PLATFORM_SHARE)
    plat_p = np.array(list(PLATFORM_SHARE.values()))
    segment = rng.choice(len(segs), size=n, p=seg_p / seg_p.sum())
    platform = rng.choice(len(plats), size=n, p=plat_p / plat_p.sum())
    is_new = rng.random(n) < NEW_USER_RATE
    activity = rng.lognormal(mean=np.log(0.3), sigma=1.1, size=n)  # sessions/day: median 0.3, heavy tail
    propensity = rng.lognormal(mean=-0.5 * 0.35**2, sigma=0.35, size=n)  # mean 1
    pre_sessions = np.where(is_new, 0, rng.poisson(activity * PRE_PERIOD_DAYS))
    # columns built in Arrow (ids "u" + zero-padded index): five times faster than Python strings
    digits = pc.cast(pa.array(np.arange(start, stop)), pa.string())
    return pa.table({
        "user_id": pc.binary_join_element_wise("u", pc.utf8_lpad(digits, width, "0"), ""),
        "segment": pa.array(segs, type=pa.string()).take(pa.array(segment)),
        "platform": pa.array(plats, type=pa.string()).take(pa.array(platform)),
        "is_new": is_new,
        "activity": activity,
        "click_propensity": propensity,
        "pre_sessions": pre_sessions.astype(np.int64),
    }).to_pandas()


def iter_users(n_users: int, seed: int = 0, chunk_size: int = CHUNK) -> Iterator[pd.DataFrame]:
    """Yield the population in chunks of chunk_size (default 1M) users, bounded memory."""
    if n_users < 1:
        raise ValueError("n_users must be at least 1")
    width = max(7, len(str(n_users - 1)))
    step = CHUNK  # seeds depend on CHUNK boundaries only; chunk_size re-slices them
    for base in range(0, n_users, step):
        block = _chunk(base, min(base + step, n_users), seed, width)
        for off in range(0, len(block), chunk_size):
            yield block.iloc[off:off + chunk_size].reset_index(drop=True)


def make_users(n_users: int, seed: int = 0) -> pd.DataFrame:
    """The whole population in one frame (10M users ≈ 1.5 GB; use iter_users/write_users to stream)."""
    return pd.concat(list(iter_users(n_users, seed)), ignore_index=True)


def write_users(n_users: int | pd.DataFrame, path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write users to Parquet: a given frame, or a population of n_users streamed chunk by chunk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(n_users, pd.DataFrame):
        n_users.to_parquet(path, index=False)
        return path
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in iter_users(int(n_users), seed):
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return path
