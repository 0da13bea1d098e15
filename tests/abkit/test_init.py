"""`import abkit` exposes the core's entry points, cheaply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import abkit
from abkit import decision, errors, spec, stats, warehouse

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(set(abkit.__all__) - {"__version__"}))
def test_each_public_name_is_the_object_of_its_home_module(name: str) -> None:
    homes = [m for m in (decision, errors, spec, stats, warehouse) if name in vars(m)]
    assert homes, f"{name} is exported but defined nowhere in the core"
    assert getattr(abkit, name) is getattr(homes[0], name)


def test_star_import_and_unknown_names() -> None:
    namespace: dict[str, object] = {}
    exec("from abkit import *", namespace)
    assert {"load_spec", "compare", "open_warehouse", "decide", "SufficientStats"} <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'analyze'"):
        abkit.analyze  # noqa: B018  (the analysis lives in experiments/, which the core may not import)


def _modules_after(code: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
                         env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {m.split(".")[0] for m in json.loads(out.splitlines()[-1])}


def test_import_abkit_is_cheap_and_loads_entry_points_on_use() -> None:
    heavy = {"tensorflow", "keras", "pyspark", "scipy", "statsmodels", "duckdb", "pandas",
             "experiments", "generators", "reports"}
    assert _modules_after("import abkit") & heavy == set()
    assert _modules_after("import abkit.cli") & heavy == set()  # `abkit --help` stays fast
    used = _modules_after("import abkit\nabkit.compare\nabkit.open_warehouse")
    assert {"scipy", "duckdb"} <= used
    assert used & {"tensorflow", "pyspark", "experiments", "generators", "reports"} == set()
