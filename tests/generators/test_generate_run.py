"""`abkit generate`: idempotency, resume, shards, candidate items, stored rows, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from abkit.cli import app
from abkit.spec import parse_spec
from abkit.warehouse import connect
from abkit.world.catalog import make_catalog, write_catalog
from generators.base import stable_hash
from generators.runner import GenerateError, key_settings, run_generate, segments_for, shard_index

SPEC = {
    "key": "gen_test",
    "arms": [
        {"name": "control", "weight": 0.5, "generator": {"type": "template"}},
        {"name": "long", "weight": 0.3, "generator": {"type": "template", "length": "L"}},
        {"name": "manual", "weight": 0.2, "generator": {"type": "external"}},
    ],
    "start": "2026-11-01",
    "end": "2026-11-08",
    "primary_metric": "ctr",
}


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return make_catalog(600, seed=21)


def _spec(**over):
    return parse_spec({**SPEC, **over})


def _rows(con) -> pd.DataFrame:
    return con.execute("SELECT reason_id, experiment, arm, item_id, segment, text FROM reasons ORDER BY reason_id").df()


def test_idempotent_and_stored_rows(tmp_path: Path, items: pd.DataFrame) -> None:
    spec = _spec()
    con = connect(tmp_path / "a.duckdb")
    rep = run_generate(spec, con, items=items, progress=False)
    assert [a.arm for a in rep.arms] == ["control", "long"]  # the external arm writes nothing
    assert rep.written == 2 * len(items)
    again = run_generate(spec, con, items=items, progress=False)
    assert again.written == 0 and all(a.existing == len(items) for a in again.arms)
    rows = _rows(con)
    assert len(rows) == rows["reason_id"].nunique() == 2 * len(items)
    assert rows["segment"].isna().all() and (rows["experiment"] == "gen_test").all()
    extra = con.execute("SELECT extra, generator, model_version, created_at FROM reasons WHERE arm = 'control' LIMIT 1"
                        ).fetchone()
    ex = extra[0]
    assert ex["ai_generated"] == "false" and extra[1] == "template" and extra[2] == "template-v1" and extra[3]
    assert ex["settings_hash"] == stable_hash(key_settings(spec.arm("control").generator, "gen_test"))
    assert isinstance(json.loads(ex["mentions"]), list) and ex["mentions_promo"] in ("true", "false")
    con.close()


def test_resume_writes_only_the_rest_with_identical_ids(tmp_path: Path, items: pd.DataFrame) -> None:
    spec = _spec()
    fresh = connect(tmp_path / "fresh.duckdb")
    run_generate(spec, fresh, items=items, arms=["control"], progress=False)
    con = connect(tmp_path / "resume.duckdb")
    # A run killed part-way leaves a prefix of the work committed; model it by a partial run.
    first = run_generate(spec, con, items=items.iloc[:250], arms=["control"], batch_size=64, progress=False)
    assert first.written == 250
    second = run_generate(spec, con, items=items, arms=["control"], batch_size=64, progress=False)
    assert second.arms[0].existing == 250 and second.written == len(items) - 250
    pd.testing.assert_frame_equal(_rows(con), _rows(fresh))
    fresh.close()
    con.close()


def test_shards_are_disjoint_and_cover(tmp_path: Path, items: pd.DataFrame) -> None:
    spec = _spec()
    con = connect(tmp_path / "s.duckdb")
    seen: list[set[str]] = []
    for i in range(3):
        before = set(_rows(con)["reason_id"])
        rep = run_generate(spec, con, items=items, arms=["control"], shard=(i, 3), progress=False)
        now = set(_rows(con)["reason_id"])
        assert rep.written == len(now - before) > 0
        seen.append(now - before)
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    full = connect(tmp_path / "full.duckdb")
    run_generate(spec, full, items=items, arms=["control"], progress=False)
    assert set.union(*seen) == set(_rows(full)["reason_id"])
    # The shard of a pair is a pure function of (item, segment), pinned so that every machine agrees
    # (sha256 of the JSON key, first 16 hex digits, mod n — never Python's salted hash()).
    assert shard_index("i000001", None, 7) == 4
    assert {shard_index(f"i{k}", "宝妈", 4) for k in range(200)} == {0, 1, 2, 3}
    with pytest.raises(GenerateError):
        run_generate(spec, con, items=items, shard=(3, 3), progress=False)
    con.close()
    full.close()


def test_experiments_do_not_share_rows(tmp_path: Path, items: pd.DataFrame) -> None:
    con = connect(tmp_path / "e.duckdb")
    run_generate(_spec(), con, items=items.iloc[:50], arms=["control"], progress=False)
    rep = run_generate(_spec(key="other_exp"), con, items=items.iloc[:50], arms=["control"], progress=False)
    assert rep.written == 50
    by_exp = con.execute("SELECT experiment, count(*) FROM reasons GROUP BY 1 ORDER BY 1").fetchall()
    assert by_exp == [("gen_test", 50), ("other_exp", 50)]
    con.close()


def test_candidate_items_from_table_and_bare_ids(tmp_path: Path, items: pd.DataFrame) -> None:
    con = connect(tmp_path / "c.duckdb")
    con.register("cat", items)
    con.execute("""INSERT INTO items (item_id, category, brand, title, price, discount, attributes, ingested_at)
                   SELECT item_id, category, brand, title, price, discount, attributes, now() FROM cat""")
    con.execute("CREATE TABLE cand AS SELECT item_id FROM cat LIMIT 40")
    con.unregister("cat")
    rep = run_generate(_spec(candidate_items="cand"), con, arms=["control"], progress=False)
    assert rep.items == 40 and rep.written == 40
    ids = pd.DataFrame({"item_id": list(items["item_id"].iloc[100:110]) + ["no_such_item"]})
    rep = run_generate(_spec(), con, items=ids, arms=["control"], progress=False)
    assert rep.items == 10 and rep.missing_items == 1 and rep.written == 10
    rep = run_generate(_spec(), con, arms=["control"], progress=False)  # default: the whole items table
    assert rep.items == len(items) and rep.arms[0].existing == 50
    with pytest.raises(GenerateError, match="no such file or table"):
        run_generate(_spec(candidate_items="nothing_here"), con, progress=False)
    with pytest.raises(GenerateError, match="unknown arm"):
        run_generate(_spec(), con, arms=["nope"], progress=False)
    con.close()


def test_bad_attributes_are_counted_not_fatal(tmp_path: Path, items: pd.DataFrame) -> None:
    broken = items.iloc[:20].copy()
    broken.loc[broken.index[:3], "attributes"] = "{not json"
    con = connect(tmp_path / "b.duckdb")
    rep = run_generate(_spec(), con, items=broken, arms=["control"], progress=False)
    assert rep.bad_items == 3 and rep.written == 17
    con.close()


def test_segments(tmp_path: Path) -> None:
    con = connect(tmp_path / "u.duckdb")
    with pytest.raises(GenerateError, match="segments"):
        segments_for(_spec(), con)
    assert segments_for(_spec(segments=["宝妈", "学生党"]), con) == ["宝妈", "学生党"]
    con.execute("INSERT INTO users (user_id, segment, ingested_at) VALUES ('u1', '宝妈', now()), "
                "('u2', '银发族', now()), ('u3', NULL, now()), ('u4', '宝妈', now())")
    assert segments_for(_spec(), con) == sorted(["宝妈", "银发族"])
    con.close()


def test_cli(tmp_path: Path, items: pd.DataFrame) -> None:
    spec_path = tmp_path / "spec.json"  # JSON is YAML
    spec_path.write_text(json.dumps(SPEC), encoding="utf-8")
    write_catalog(items.iloc[:30], tmp_path / "items.parquet")
    db = tmp_path / "cli.duckdb"
    runner = CliRunner()
    args = ["generate", str(spec_path), "--db", str(db), "--items", str(tmp_path / "items.parquet"), "--no-progress"]
    res = runner.invoke(app, args + ["--arm", "control", "--shard", "0/1"])
    assert res.exit_code == 0, res.output
    assert "30 written" in res.output
    res = runner.invoke(app, args + ["--shard", "1-2"])
    assert res.exit_code == 2 and "expected i/n" in res.output
    res = runner.invoke(app, args + ["--arm", "manual"])
    assert res.exit_code == 2 and "no generator" in res.output


def test_template_path_never_imports_keras() -> None:
    code = ("import sys; from abkit.spec import GeneratorSettings; from generators.runner import get_generator; "
            "g = get_generator(GeneratorSettings(type='template')); "
            "assert g.name == 'template'; bad = [m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
