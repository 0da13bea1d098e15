"""A breakdown over a dimension with thousands of values keeps the top N by users and pools the rest
(issue 17, finding 9): exact pooled statistics, a note, and a bounded result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from abkit.spec import parse_spec
from experiments.analysis.breakdowns import cap_values, other_label

SPEC = """\
key: cap
arms:
  - {name: control, weight: 0.5, generator: {type: template}}
  - {name: treatment, weight: 0.5, generator: {type: template}}
start: 2026-11-01
end: 2026-11-04
primary_metric: ctr
secondary_metrics: [conversion_rate]
"""


def test_pooled_row_is_the_sum_of_the_other_values_and_the_top_values_are_kept():
    rng = np.random.default_rng(3)
    values = [f"v{i}" for i in range(40)] + [None]
    sizes = rng.permutation(len(values)) + 1  # distinct users per value: the top 7 are unambiguous
    frame = pd.DataFrame([{"arm": a, "dim_0": v, "n": int(sizes[i]) + (a == "treatment"),
                           "sum_y": float(rng.random() * 50)}
                          for i, v in enumerate(values) for a in ("control", "treatment")])
    users = frame.groupby("dim_0", dropna=False)["n"].sum()
    capped, n_values, n_users = cap_values(frame, "dim_0", 7)
    top = set(users.sort_values(ascending=False).index[:7])
    kept = set(capped["dim_0"]) - {other_label(34)}
    assert n_values == 34 and kept == top
    assert n_users == int(users.sum() - users[list(top)].sum())
    other = capped[capped["dim_0"] == other_label(34)].set_index("arm")
    rest = frame[~frame["dim_0"].isin(top)].groupby("arm")[["n", "sum_y"]].sum()
    pd.testing.assert_frame_equal(other[["n", "sum_y"]], rest, check_dtype=False)
    assert capped.groupby("arm")["n"].sum().equals(frame.groupby("arm")["n"].sum())  # nobody lost
    assert cap_values(frame, "dim_0", 41)[1:] == (0, 0)  # under the cap: unchanged


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from abkit.warehouse import connect
    from abkit.world.catalog import make_catalog
    from experiments.ingest.files import ingest_files
    from experiments.simulate.pipeline import simulate_into
    from experiments.simulate.traffic import SimOptions
    from generators.runner import run_generate

    d = tmp_path_factory.mktemp("cap")
    spec = parse_spec(yaml.safe_load(SPEC))
    make_catalog(80, seed=2).to_parquet(d / "items.parquet", index=False)
    con = connect(d / "w.duckdb")
    ingest_files(con, "items", [d / "items.parquet"])
    run_generate(spec, con, progress=False)
    simulate_into(spec, con, SimOptions(seed=2, days=2), n_users=1200, out_dir=d / "sim")
    yield spec, con
    con.close()


def test_a_dimension_with_a_thousand_values_is_capped_with_a_note(warehouse):
    from experiments.analysis.analyze import analyze

    spec, con = warehouse
    spec = spec.model_copy(update={"max_breakdown_values": 5})
    # activity: a per-user number in the users table, so about one value per user
    result = analyze(spec, con, dimensions=["activity"], text_metrics=False)
    rows = result.breakdowns["activity"]
    values = list(dict.fromkeys(r.value for r in rows))
    assert len(values) == 6 and values[-1].startswith("(other: ")
    pooled_values = int(values[-1].split()[1].replace(",", ""))
    assert pooled_values > 100  # hundreds of distinct activity levels
    users_of = {r.value: sum(r.users.values()) for r in rows}
    assert sum(users_of.values()) == sum(result.users.values())  # nobody lost to the cap
    assert min(users_of[v] for v in values[:5]) >= 1
    assert any(n.startswith(f"Breakdown by activity: {pooled_values + 5:,} values; the 5 with the most users")
               for n in result.notes)
    uncapped = analyze(spec.model_copy(update={"max_breakdown_values": 10_000}), con, dimensions=["platform"],
                       text_metrics=False)
    assert not any("Breakdown by" in n for n in uncapped.notes)
