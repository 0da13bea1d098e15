"""Guarded ramps on simulated runs: advance when harmless, roll back when the treatment harms a
guardrail or the split shows an SRM; idempotent; who/when/why recorded; weights fixed per phase."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from abkit.spec import SpecError, load_spec, parse_spec
from abkit.warehouse import connect
from abkit.world.catalog import make_catalog
from experiments.simulate.pipeline import simulate_into
from experiments.simulate.textfeatures import Effects
from experiments.simulate.traffic import SimOptions
from generators.runner import run_generate
from serving.rollout import rollout_step
from serving.snapshot import load_snapshot
from tests.serving.conftest import abkit_cmd, env

T0 = "2026-11-04T00:00"
T1 = "2026-11-05T12:00"  # 1.5 days later
T2 = "2026-11-06T12:00"  # 1 day after T1: min_days reached again


def spec_data(harm: bool, **overrides: Any) -> dict[str, Any]:
    """Both arms plain templates (harmless), or long treatment texts that the simulated users click
    much less (a CTR guardrail harmed)."""
    data: dict[str, Any] = {
        "key": "ramp", "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "ctr",
        "arms": [{"name": "control", "weight": 0.5, "generator": {"type": "template"}},
                 {"name": "treat", "weight": 0.5, "generator": {"type": "template", "length": "L" if harm else "M"}}],
        "guardrails": [{"metric": "ctr", "margin": 0.05}],
        "rollout": {"steps": [0.1, 0.5, 1.0], "min_days": 1, "min_users_per_arm": 500},
    }
    data.update(overrides)
    return data


def _simulated(root: Path, harm: bool, srm_bug: float = 0.0) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    spec_path = root / "ramp.yaml"
    spec_path.write_text(yaml.safe_dump(spec_data(harm)), encoding="utf-8")
    spec = load_spec(spec_path)
    db = root / "w.duckdb"
    con = connect(db)
    try:
        run_generate(spec, con, items=make_catalog(150, seed=1), progress=False)
        simulate_into(spec, con, SimOptions(seed=2, srm_bug=srm_bug, effects=Effects(length_penalty=1.0)),
                      n_users=3000, n_items=150, out_dir=root / "sim")
    finally:
        con.close()
    return spec_path, db


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    base = tmp_path_factory.mktemp("ramps")
    return {"harmless": _simulated(base / "harmless", False), "harmful": _simulated(base / "harmful", True),
            "srm": _simulated(base / "srm", False, srm_bug=0.3)}


def _copy(run: tuple[Path, Path], tmp: Path) -> tuple[Path, Path]:
    spec, db = run
    shutil.copy(db, tmp / "w.duckdb")
    shutil.copy(spec, tmp / "ramp.yaml")
    return tmp / "ramp.yaml", tmp / "w.duckdb"


def rollout(spec: Path, db: Path, now: str, *extra: str) -> str:
    """One step, in-process (the CLI's body) — or through `abkit rollout` with ``cli=True``."""
    import datetime as dt

    con = connect(db, read_only="--dry-run" in extra)
    try:
        return rollout_step(load_spec(spec), con, now=dt.datetime.fromisoformat(now), actor="cron",
                            dry_run="--dry-run" in extra).line()
    finally:
        con.close()


def rollout_cli(spec: Path, db: Path, now: str, *extra: str) -> str:
    run = subprocess.run(abkit_cmd("rollout", str(spec), "--db", str(db), "--now", now, "--user", "cron", *extra),
                         env=env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def steps(db: Path) -> list[tuple[Any, ...]]:
    return _query(db, "SELECT phase, coverage, hash_seed, actor, reason FROM coverage_steps ORDER BY step_at, rowid")


def state(db: Path) -> tuple[Any, ...]:
    return _query(db, "SELECT state, note FROM lifecycle ORDER BY changed_at DESC, rowid DESC LIMIT 1")[0]


@pytest.mark.slow
def test_advances_step_by_step_when_harmless(runs: dict[str, Any], tmp_path: Path) -> None:
    spec, db = _copy(runs["harmless"], tmp_path)
    out = rollout_cli(spec, db, T0)
    assert "start" in out and "→ 10%" in out
    assert [s[1] for s in steps(db)] == [0.1]
    assert "hold" in rollout(spec, db, T0)  # same time again: nothing more
    out = rollout_cli(spec, db, T1, "--dry-run")
    assert "advance" in out and "10% → 50%" in out and "nothing recorded" in out
    assert [s[1] for s in steps(db)] == [0.1]
    assert "advance" in rollout(spec, db, T1)
    assert "hold" in rollout(spec, db, T1)  # idempotent for a cron that fires twice
    assert "waiting" in rollout(spec, db, "2026-11-06T00:00")  # 0.5 d at 50 %: not yet
    assert "advance" in rollout(spec, db, T2)
    assert "ramp complete" in rollout(spec, db, "2026-11-07T18:00")
    recorded = steps(db)
    assert [s[1] for s in recorded] == [0.1, 0.5, 1.0]
    assert all(s[0] == 1 and s[2] == "ramp" and s[3] == "cron" for s in recorded)
    assert "no guardrail shown worse" in recorded[1][4]
    assert state(db)[0] == "running" and '"by": "cron"' in state(db)[1]
    snap = load_snapshot([load_spec(spec)], db)  # what `abkit serve` would serve now
    assert snap.served[0].spec.coverage == 1.0


@pytest.mark.slow
def test_rolls_back_when_the_treatment_harms_a_guardrail(runs: dict[str, Any], tmp_path: Path) -> None:
    spec, db = _copy(runs["harmful"], tmp_path)
    rollout(spec, db, T0)
    out = rollout(spec, db, T1)
    assert "rollback" in out and "10% → 0%" in out and "ctr (treat)" in out
    assert "hold" in rollout(spec, db, T2) and [s[1] for s in steps(db)] == [0.1, 0.0]
    assert state(db)[0] == "rolled_back"
    assert load_snapshot([load_spec(spec)], db).served == []  # the server stops showing it


@pytest.mark.slow
def test_rolls_back_on_a_sample_ratio_mismatch(runs: dict[str, Any], tmp_path: Path) -> None:
    spec, db = _copy(runs["srm"], tmp_path)
    rollout(spec, db, T0)
    out = rollout(spec, db, T1)
    assert "rollback" in out and "sample ratio mismatch" in out


@pytest.mark.slow
def test_weights_are_fixed_within_a_phase(runs: dict[str, Any], tmp_path: Path) -> None:
    spec, db = _copy(runs["harmless"], tmp_path)
    rollout(spec, db, T0)
    data = spec_data(False)
    data["arms"][0]["weight"], data["arms"][1]["weight"] = 0.4, 0.6
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = subprocess.run(abkit_cmd("rollout", str(spec), "--db", str(db), "--now", T1), env=env(),
                         capture_output=True, text=True)
    assert run.returncode == 2 and "new hash_seed" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    spec.write_text(yaml.safe_dump({**data, "hash_seed": "ramp_v2"}), encoding="utf-8")
    out = rollout(spec, db, T1)
    assert "start" in out and "phase 2" in out
    assert steps(db)[-1][:3] == (2, 0.1, "ramp_v2")


@pytest.mark.parametrize(("rollout_value", "words"), [
    ({"steps": [0.5, 0.2]}, "rollout.steps: [1]: 0.2 does not increase"),
    ({"steps": [0.1, 1.5]}, "rollout.steps: [1]: 1.5 is not a coverage"),
    ({"steps": [0.1], "min_days": 0}, "rollout.min_days"),
    ({"steps": [0.1], "every": 1}, "rollout.every: unknown key"),
])
def test_rollout_plan_errors_name_the_key(rollout_value: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_spec(spec_data(False, rollout=rollout_value))


def test_a_spec_without_a_plan_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    data = spec_data(False)
    del data["rollout"]
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    connect(tmp_path / "w.duckdb").close()
    run = subprocess.run(abkit_cmd("rollout", str(spec), "--db", str(tmp_path / "w.duckdb")), env=env(),
                         capture_output=True, text=True)
    assert run.returncode == 2 and "no rollout plan" in run.stderr
