"""Generation at scale: n workers run `abkit generate --shard i/n` in their own warehouses, export
their reasons as Parquet parts, and `abkit ingest reasons` merges the parts idempotently into
exactly what one unsharded run stores."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from abkit.cli import app
from abkit.warehouse import connect
from abkit.world.catalog import make_catalog, write_catalog

SPEC = {
    "key": "shard_parts",
    "arms": [{"name": "control", "weight": 0.5, "generator": {"type": "template"}},
             {"name": "long", "weight": 0.5, "generator": {"type": "template", "length": "L"}}],
    "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "ctr",
}
COLUMNS = "reason_id, experiment, arm, item_id, segment, text, generator, model_version"


def _reasons(db: Path) -> pd.DataFrame:
    con = connect(db, read_only=True)
    try:
        return con.execute(f"SELECT {COLUMNS} FROM reasons ORDER BY reason_id").df()
    finally:
        con.close()


def test_shard_parts_merge_into_the_unsharded_run(tmp_path: Path) -> None:
    runner = CliRunner()
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    items = tmp_path / "items.parquet"
    write_catalog(make_catalog(90, seed=4), items)
    base = ["generate", str(spec), "--items", str(items), "--no-progress"]

    full = tmp_path / "full.duckdb"
    assert runner.invoke(app, [*base, "--db", str(full)]).exit_code == 0
    parts = []
    for i in range(3):  # three workers, each with its own warehouse
        db = tmp_path / f"worker{i}.duckdb"
        res = runner.invoke(app, [*base, "--db", str(db), "--shard", f"{i}/3"])
        assert res.exit_code == 0, res.output
        part = tmp_path / "parts" / f"reasons-{i}.parquet"
        part.parent.mkdir(exist_ok=True)
        _reasons(db).to_parquet(part, index=False)
        parts.append(part)
    ids = [set(pd.read_parquet(p)["reason_id"]) for p in parts]
    assert all(ids) and not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])

    merged = tmp_path / "merged.duckdb"
    ingest = ["ingest", "reasons", *map(str, parts), "--db", str(merged)]
    assert runner.invoke(app, ingest).exit_code == 0
    again = runner.invoke(app, ingest)  # a retried merge adds nothing
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(_reasons(merged), _reasons(full))
    assert len(_reasons(merged)) == 2 * 90
