"""`abkit plan`: sample size from history against the closed forms (scipy's normal quantiles), days
from the growth of cumulative unique users, and the command's output."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from typer.testing import CliRunner

from abkit.cli import app
from abkit.errors import AbkitError
from abkit.spec import parse_spec
from abkit.warehouse import connect
from experiments.analysis.plan import plan

START = pd.Timestamp("2026-11-15")
HISTORY_DAYS = 14


def spec(**kw: object):
    return parse_spec({"key": "exp1", "arms": [{"name": "control", "weight": 0.3}, {"name": "treat", "weight": 0.7}],
                       "start": "2026-11-15", "end": "2026-11-29", "timezone": "UTC",
                       "primary_metric": "revenue_per_user", "coverage": 0.5, **kw})


def history(new_per_day: list[int], seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """History before START: each day's new users are first exposed at 10:00 on one item, some order it
    an hour later; every earlier user comes back daily (returning users are not new). Plus distractors:
    exposures before the history window and inside the experiment's own window, which plan must skip.
    Returns (exposures, events, per-user truth of the history window)."""
    rng = np.random.default_rng(seed)
    day0 = START - pd.Timedelta(days=HISTORY_DAYS)
    x_rows, e_rows, truth = [], [], []
    users: list[str] = []
    for d, new in enumerate(new_per_day):
        day = day0 + pd.Timedelta(days=d)
        for u in users:  # returning users
            x_rows.append((f"x{len(x_rows)}", day + pd.Timedelta(hours=15), "old", u, "i_r", "a"))
        for _ in range(new):
            u = f"u{len(users)}"
            users.append(u)
            item = f"i{len(users) % 7}"
            x_rows.append((f"x{len(x_rows)}", day + pd.Timedelta(hours=10), "old", u, item, "a"))
            revenue = 0.0
            if rng.random() < 0.3:
                revenue = float(np.round(rng.gamma(2.0, 40.0), 2))
                e_rows.append((f"o{len(e_rows)}", day + pd.Timedelta(hours=11), u, item, "order", revenue,
                               f"O{len(e_rows)}"))
            truth.append((u, revenue, revenue > 0))
    for i in range(200):  # outside the history window: before it, and the experiment's own days
        for ts in (day0 - pd.Timedelta(days=3), START + pd.Timedelta(days=1)):
            x_rows.append((f"x{len(x_rows)}", ts, "exp1", f"z{i}", "i0", "control"))
            e_rows.append((f"o{len(e_rows)}", ts + pd.Timedelta(hours=1), f"z{i}", "i0", "order", 1000.0,
                           f"O{len(e_rows)}"))
    exposures = pd.DataFrame(x_rows, columns=["event_id", "ts", "experiment", "user_id", "item_id", "arm"])
    events = pd.DataFrame(e_rows, columns=["event_id", "ts", "user_id", "item_id", "type", "revenue", "order_id"])
    return exposures, events, pd.DataFrame(truth, columns=["user_id", "revenue", "converted"])


def n_mean(var: float, baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> float:
    return (norm.ppf(1 - alpha / 2) + norm.ppf(power)) ** 2 * 2 * var / (baseline * mde) ** 2


def n_proportion(p1: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> float:
    p2 = p1 * (1 + mde)
    return ((norm.ppf(1 - alpha / 2) * math.sqrt(2 * p1 * (1 - p1))
             + norm.ppf(power) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) / (p2 - p1)) ** 2


@pytest.fixture
def history_db(tmp_path: Path, log_writer):
    exposures, events, truth = history([150] * HISTORY_DAYS)
    db = tmp_path / "hist.duckdb"
    log_writer(db, exposures=exposures, events=events)
    return db, truth


def test_mean_metric_sample_size_and_days_from_history(history_db) -> None:
    db, truth = history_db
    s = spec(mde=0.3)
    with connect(db, read_only=True) as con:
        p = plan(s, con, history_days=HISTORY_DAYS)
    mean, var = truth["revenue"].mean(), truth["revenue"].var(ddof=1)
    assert p.baseline == pytest.approx(mean, rel=1e-12) and p.variance == pytest.approx(var, rel=1e-12)
    assert p.users_per_arm == math.ceil(n_mean(var, mean, 0.3))
    assert p.users_total == math.ceil(p.users_per_arm / 0.3 / 0.5)  # smallest arm's weight, coverage
    # 150 new users a day: the first day the cumulative unique count reaches the total
    assert p.cumulative_users == [150 * (d + 1) for d in range(HISTORY_DAYS)]
    assert p.days == math.ceil(p.users_total / 150)
    assert p.history == "all exposures of the 14 days before the start"


def test_proportion_metric_uses_the_baseline_rate(history_db) -> None:
    db, truth = history_db
    with connect(db, read_only=True) as con:
        p = plan(spec(primary_metric="conversion_rate", mde=0.5, alpha=0.1, power=0.9), con,
                 history_days=HISTORY_DAYS)
    rate = truth["converted"].mean()
    assert p.kind == "proportion" and p.baseline == pytest.approx(rate, rel=1e-12)
    assert p.users_per_arm == math.ceil(n_proportion(rate, 0.5, alpha=0.1, power=0.9))


@pytest.mark.parametrize("per_day", [100, 37])
def test_days_extrapolate_linear_growth_beyond_the_history(tmp_path: Path, log_writer, per_day: int) -> None:
    exposures, events, _ = history([per_day] * HISTORY_DAYS)
    db = tmp_path / "h.duckdb"
    log_writer(db, exposures=exposures, events=events)
    with connect(db, read_only=True) as con:
        p = plan(spec(planned_users_per_arm=3 * per_day), con, history_days=HISTORY_DAYS)
    assert p.users_total == math.ceil(3 * per_day / 0.3 / 0.5) == 20 * per_day
    assert p.days == 20  # unique users grow by per_day a day; the daily returning visits do not count


def test_saturating_history_says_more_than_a_year(tmp_path: Path, log_writer) -> None:
    exposures, events, _ = history([300, 30, 3, 1] + [0] * (HISTORY_DAYS - 4))
    db = tmp_path / "h.duckdb"
    log_writer(db, exposures=exposures, events=events)
    with connect(db, read_only=True) as con:
        p = plan(spec(planned_users_per_arm=5_000), con, history_days=HISTORY_DAYS)
    assert p.days is None and any("more than a year" in line for line in p.lines())


def test_without_history_falls_back_to_the_experiment_window_then_to_nothing(tmp_path: Path, log_writer) -> None:
    exposures, events, truth = history([50] * 3)
    exposures, events = (df[~df["user_id"].str.startswith("z")].copy() for df in (exposures, events))
    exposures["ts"] += pd.Timedelta(days=HISTORY_DAYS)  # all inside the experiment's own window
    exposures["experiment"], exposures["arm"] = "exp1", "control"
    events["ts"] += pd.Timedelta(days=HISTORY_DAYS)
    db = tmp_path / "own.duckdb"
    log_writer(db, exposures=exposures, events=events)
    with connect(db, read_only=True) as con:
        p = plan(spec(mde=0.3), con, history_days=HISTORY_DAYS)
    assert p.history == "this experiment's own window so far (arms pooled)"
    assert p.baseline == pytest.approx(truth["revenue"].mean(), rel=1e-12)
    assert p.users_per_arm == math.ceil(n_mean(truth["revenue"].var(ddof=1), truth["revenue"].mean(), 0.3))
    p = plan(spec(planned_users_per_arm=1000), None)
    assert p.history == "no database" and p.users_per_arm == 1000 and p.days is None
    assert any("unknown (no historical exposures)" in line for line in p.lines())
    with pytest.raises(AbkitError, match="mde"):
        plan(spec(), None)


def test_plan_command_prints_the_plan(history_db, tmp_path: Path) -> None:
    db, truth = history_db
    path = tmp_path / "spec.yaml"
    path.write_text("key: exp1\narms: [{name: control, weight: 0.3}, {name: treat, weight: 0.7}]\n"
                    "start: 2026-11-15\nend: 2026-11-29\nprimary_metric: revenue_per_user\n"
                    "coverage: 0.5\nmde: 0.3\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["plan", str(path), "--db", str(db), "--history-days", str(HISTORY_DAYS)])
    assert r.exit_code == 0, r.output
    n = math.ceil(n_mean(truth["revenue"].var(ddof=1), truth["revenue"].mean(), 0.3))
    total = math.ceil(n / 0.3 / 0.5)
    assert f"users per arm: {n:,} (total {total:,}" in r.output
    assert f"days needed: {math.ceil(total / 150)} " in r.output
    assert "primary metric revenue_per_user (mean)" in r.output
    r = CliRunner().invoke(app, ["plan", str(path.with_name("missing.yaml"))])
    assert r.exit_code != 0 and "missing.yaml" in r.output
