"""Shared pytest set-up: keep TensorFlow quiet and single-process friendly on 2 cores."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    """Headless system Chromium through Playwright, shared by the browser tests of one module;
    skips where Chromium or Playwright is missing (`.ci/run` installs both)."""
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium fonts-noto-cjk)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _world_logs(n_per_arm: int, seed: int, *, click: dict[str, float], order: float = 0.3,
                revenue: dict[str, float] | None = None, refund: dict[str, float] | None = None,
                start: str = "2026-11-01", key: str = "w") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small seeded world with known effects, for experiment `key` from `start`: each user sees 1–4
    exposures over 4 days; clicks (10 min later) with the arm's rate, orders (30 min after a click) with
    `order`, lognormal revenue × the arm's multiplier, refunds (a day later) with the arm's rate."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    arms = list(click)
    revenue = revenue or {}
    refund = refund or {}
    arm = np.repeat(arms, n_per_arm)
    users = np.array([f"u{i:06d}" for i in range(len(arm))])
    k = rng.integers(1, 5, len(arm))
    uid = np.repeat(np.arange(len(arm)), k)
    m = len(uid)
    x_ts = t0 + pd.to_timedelta(rng.integers(0, 4 * 24 * 60 - 120, m), unit="min")
    item = np.array([f"i{j}" for j in rng.integers(0, 30, m)])
    xa = arm[uid]
    exposures = pd.DataFrame({"event_id": [f"x{i}" for i in range(m)], "ts": x_ts, "experiment": key,
                              "user_id": users[uid], "item_id": item, "arm": xa,
                              "platform": np.where(rng.random(m) < 0.5, "ios", "android")})
    ci = np.flatnonzero(rng.random(m) < np.array([click[a] for a in xa]))
    clicks = pd.DataFrame({"ts": x_ts[ci] + pd.Timedelta(minutes=10), "user_id": users[uid[ci]],
                           "item_id": item[ci], "type": "click"})
    oi = ci[rng.random(len(ci)) < order]
    mult = np.array([revenue.get(a, 1.0) for a in xa[oi]])
    orders = pd.DataFrame({"ts": x_ts[oi] + pd.Timedelta(minutes=40), "user_id": users[uid[oi]],
                           "item_id": item[oi], "type": "order",
                           "revenue": np.round(rng.lognormal(3, 0.8, len(oi)) * mult, 2),
                           "order_id": [f"O{i}" for i in range(len(oi))]})
    ri = rng.random(len(oi)) < np.array([refund.get(a, 0.05) for a in xa[oi]])
    refunds = orders[ri].assign(type="refund", ts=orders["ts"][ri] + pd.Timedelta(days=1))
    events = pd.concat([clicks, orders, refunds], ignore_index=True)
    events["event_id"] = [f"e{i}" for i in range(len(events))]
    return exposures, events


@pytest.fixture
def world_logs():
    """Factory of small seeded worlds with known effects: world_logs(n_per_arm, seed, click={arm: rate}, ...)."""
    return _world_logs
