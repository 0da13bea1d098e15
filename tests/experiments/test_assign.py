"""Assignment against GrowthBook's own SDK (growthbook >= 4.0.0, a test-only oracle)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from growthbook import Experiment, GrowthBook
from growthbook.core import chooseVariation, gbhash, getBucketRanges, inNamespace

from abkit.spec import parse_spec
from experiments.assign import (
    HOLDOUT_SEED,
    assign_arms,
    assign_index,
    assign_one,
    bucket_ranges,
    choose,
    fnv1a32,
    hash_v1,
    hash_v2,
    in_namespace,
)

ALPHABET = list("abcxyz0123456789-_:@.") + list("用户中文推荐理由测试") + ["😀", "🎉", "👍🏽", "é", "ß", "\u200b"]


def random_ids(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = [f"{rng.randrange(10**9):09d}" for _ in range(n // 4)]  # leading zeros
    while len(out) < n:
        out.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24))))
    rng.shuffle(out)
    return out


IDS = random_ids(100_000)


def make_spec(weights, coverage=1.0, seed="exp_seed", namespace=None, holdout=0.0, hash_version=2):
    return parse_spec({
        "key": "exp1", "hash_seed": seed, "coverage": coverage, "hash_version": hash_version,
        "arms": [{"name": f"arm{i}", "weight": w} for i, w in enumerate(weights)],
        "start": "2026-11-01", "end": "2026-11-15", "primary_metric": "ctr",
        **({"namespace": namespace} if namespace else {}), "holdout": holdout,
    })


def test_fnv_matches_sdk_and_reference_values() -> None:
    # The published FNV-1a 32 test vectors (ASCII: one UTF-16 unit per byte).
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968
    from growthbook.core import fnv1a32 as sdk_fnv

    for s in ("用户", "😀", "a😀b", "\ud83d"):  # a lone surrogate too
        assert fnv1a32(s) == sdk_fnv(s)


@pytest.mark.parametrize("seed", ["exp_seed", "推荐", ""])
def test_hash_v2_and_v1_equal_sdk_on_100k_ids(seed: str) -> None:
    ids = IDS if seed == "exp_seed" else IDS[:20_000]
    v2, v1 = hash_v2(seed, ids), hash_v1(seed, ids)
    expected2 = np.array([gbhash(seed, s, 2) for s in ids])
    expected1 = np.array([gbhash(seed, s, 1) for s in ids])
    assert np.array_equal(v2, expected2)
    assert np.array_equal(v1, expected1)
    assert any(ord(c) > 0xFFFF for s in ids for c in s)  # the sample has astral (emoji) ids


def test_numpy_array_input_and_id_holding_nul() -> None:
    ids = np.array(["u1", "a\x00b", "用户😀", "x"], dtype=object)
    assert hash_v2("s", ids).tolist() == [gbhash("s", str(s), 2) for s in ids]
    assert hash_v2("s", np.array(["u1", "u2"])).tolist() == [gbhash("s", s, 2) for s in ("u1", "u2")]
    assert hash_v2("s", []).shape == (0,)
    import pyarrow as pa

    spec = make_spec([0.5, 0.5])
    col = pa.chunked_array([["u1", None], ["用户"]])
    assert assign_arms(col, spec).tolist() == assign_arms(["u1", "", "用户"], spec).tolist()


@pytest.mark.parametrize(("weights", "coverage"), [
    ([0.1, 0.2, 0.7], 1.0), ([1 / 3] * 3, 1.0), ([0.5, 0.5], 0.4), ([0.25, 0.25, 0.25, 0.25], 0.85),
    ([0.05, 0.95], 0.73),
])
def test_every_bucket_and_boundary_matches_sdk(weights, coverage) -> None:
    ranges = bucket_ranges(weights, coverage)
    assert ranges == [tuple(r) for r in getBucketRanges(len(weights), coverage, weights)]
    v2 = np.arange(10_000) / 10_000  # every bucket hash v2 can produce
    v1 = np.arange(1_000) / 1_000
    for buckets in (v2, v1):
        ours = choose(buckets, ranges)
        assert ours.tolist() == [chooseVariation(float(b), ranges) for b in buckets]


def test_float_boundary_bucket_belongs_to_the_sdk_arm() -> None:
    ranges = bucket_ranges([0.1, 0.2, 0.7])
    assert ranges[1][1] == 0.30000000000000004
    assert choose(np.array([0.3]), ranges).tolist() == [1]  # an integer-threshold shortcut says 2
    # a real id that hashes to exactly 0.3 gets arm 1, as in the SDK
    ids = [s for s in IDS if gbhash("exp_seed", s, 2) == 0.3]
    assert ids
    spec = make_spec([0.1, 0.2, 0.7])
    assert set(assign_arms(ids, spec)) == {"arm1"}


@pytest.mark.parametrize("kw", [
    {"weights": [0.1, 0.2, 0.7]},
    {"weights": [0.5, 0.5], "coverage": 0.4},
    {"weights": [1 / 3] * 3, "seed": "种子", "namespace": {"name": "ns1", "range": [0.2, 0.7]}},
    {"weights": [0.3, 0.7], "hash_version": 1, "coverage": 0.9},
    {"weights": [1, 2, 7]},  # any positive weights: the spec normalizes them; the SDK gets those
    {"weights": [0.333, 0.333, 0.333], "coverage": 0.8},
])
def test_full_experiment_equals_growthbook_run(kw) -> None:
    spec = make_spec(**kw)
    ids = IDS[:30_000]
    ours = assign_index(ids, spec)
    ns = spec.namespace
    exp = Experiment(
        key=spec.key, variations=list(range(len(spec.arms))), weights=spec.weights, coverage=spec.coverage,
        hashVersion=spec.hash_version, seed=spec.seed,
        namespace=(ns.name, ns.range[0], ns.range[1]) if ns else None,
    )
    gb = GrowthBook(attributes={"id": ids[0]})
    expected = []
    for uid in ids:
        gb.set_attributes({"id": uid})
        r = gb.run(exp)
        expected.append(r.variationId if r.inExperiment else -1)
    assert ours.tolist() == expected
    assert (ours == -1).any() == (spec.coverage < 1 or ns is not None)


def test_namespaces_match_sdk_and_are_exclusive() -> None:
    inside = in_namespace(IDS, "checkout", 0.0, 0.5)
    assert inside.tolist() == [inNamespace(s, ("checkout", 0.0, 0.5)) for s in IDS]
    a = make_spec([0.5, 0.5], seed="a", namespace={"name": "checkout", "range": [0.0, 0.5]})
    b = make_spec([0.5, 0.5], seed="b", namespace={"name": "checkout", "range": [0.5, 1.0]})
    in_a, in_b = assign_index(IDS, a) >= 0, assign_index(IDS, b) >= 0
    assert not (in_a & in_b).any()
    assert (in_a | in_b).all()
    assert abs(in_a.mean() - 0.5) < 0.01


def test_raising_coverage_never_moves_an_enrolled_user_but_weights_do() -> None:
    before = assign_index(IDS, make_spec([0.2, 0.3, 0.5], coverage=0.3))
    after = assign_index(IDS, make_spec([0.2, 0.3, 0.5], coverage=0.8))
    enrolled = before >= 0
    assert np.array_equal(after[enrolled], before[enrolled])
    assert (after >= 0).mean() > (before >= 0).mean() + 0.4
    full = assign_index(IDS, make_spec([0.2, 0.3, 0.5]))
    reweighted = assign_index(IDS, make_spec([0.3, 0.3, 0.4]))
    assert (reweighted != full).mean() > 0.05  # documented: a ramp-up changes coverage, never weights


def test_holdout_is_shared_across_experiments_and_excluded() -> None:
    a = make_spec([0.5, 0.5], seed="a", holdout=0.1)
    b = make_spec([0.2, 0.8], seed="b", holdout=0.1)
    held = hash_v2(HOLDOUT_SEED, IDS) < 0.1
    assert abs(held.mean() - 0.1) < 0.005
    for spec in (a, b):
        idx = assign_index(IDS, spec)
        assert (idx[held] == -1).all()
        assert (idx[~held] >= 0).all()
        no_holdout = assign_index(IDS, make_spec(spec.weights, seed=spec.seed))
        assert np.array_equal(idx[~held], no_holdout[~held])  # holdout never reshuffles the rest


def test_vectorized_equals_per_id_loop_and_empty_ids() -> None:
    spec = make_spec([0.2, 0.3, 0.5], coverage=0.9, namespace={"name": "n", "range": [0.1, 0.95]}, holdout=0.05)
    ids = IDS[:5000] + ["", None]
    arms = assign_arms(ids, spec)
    assert arms.tolist() == [assign_one(s or "", spec) for s in ids]
    assert arms[-1] is None and arms[-2] is None
    assert arms.dtype == object


def test_weights_split_is_as_specified() -> None:
    idx = assign_index(IDS, make_spec([0.1, 0.2, 0.7]))
    share = np.bincount(idx, minlength=3) / len(IDS)
    assert np.allclose(share, [0.1, 0.2, 0.7], atol=0.006)


def _abkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "abkit", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_assign_csv_and_parquet(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "key: cli_exp\ncoverage: 0.5\narms:\n  - {name: control, weight: 0.5}\n  - {name: 对照组B, weight: 0.5}\n"
        "start: 2026-11-01\nend: 2026-11-02\nprimary_metric: ctr\n", encoding="utf-8")
    ids = ["00123", "用户1", "😀x", *(f"u{i}" for i in range(200))]
    users = tmp_path / "users.csv"
    users.write_text("user_id,segment\n" + "".join(f"{u},s\n" for u in ids), encoding="utf-8")
    for out in ("a.csv", "a.parquet"):
        r = _abkit("assign", str(spec), "--users", str(users), "--out", out, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        if out.endswith(".csv"):
            import csv

            rows = list(csv.DictReader((tmp_path / out).open(encoding="utf-8")))
            got = [(row["user_id"], row["arm"] or None) for row in rows]
            assert all(row["arm"] in ("", "control", "对照组B") for row in rows)
        else:
            t = pq.read_table(tmp_path / out).to_pylist()
            got = [(row["user_id"], row["arm"]) for row in t]
        expected = assign_arms(ids, parse_spec({
            "key": "cli_exp", "coverage": 0.5, "arms": [{"name": "control", "weight": 0.5},
                                                        {"name": "对照组B", "weight": 0.5}],
            "start": "2026-11-01", "end": "2026-11-02", "primary_metric": "ctr"}))
        assert got == list(zip(ids, expected.tolist(), strict=True))
        assert None in expected.tolist()
    bad = tmp_path / "nouser.csv"
    bad.write_text("uid\n1\n")
    r = _abkit("assign", str(spec), "--users", str(bad), "--out", "x.csv", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "user_id" in r.stderr and "nouser.csv" in r.stderr


def test_unnormalized_weights_assign_like_their_normalized_form() -> None:
    assert bucket_ranges([1, 1]) == bucket_ranges([0.5, 0.5])
    assert assign_index(IDS, make_spec([1, 3])).tolist() == assign_index(IDS, make_spec([0.25, 0.75])).tolist()
