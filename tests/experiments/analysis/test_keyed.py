"""The analysis over integer user keys (experiments/analysis/keyed.py) gives the string path's result."""

from __future__ import annotations

import math
from typing import Any

from abkit.warehouse import connect, user_keys_complete
from experiments.analysis.analyze import analyze
from experiments.analysis.engines.timed import QueryLog


def _close(a: Any, b: Any, path: str = "$") -> list[str]:
    """Where two analysis JSON values differ: exact except floats (1e-9 relative; sums may add up in
    another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a != a and b != b) else [f"{path}: {a} {b}"]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a if k != "computed_at" for d in _close(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _close(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def _run(db: Any, spec: Any, **kw: Any) -> tuple[dict[str, Any], bool]:
    log: QueryLog = []
    con = connect(db)
    try:
        result = analyze(spec, con, dimensions=("platform",), query_log=log, **kw)
    finally:
        con.close()
    return result.to_json(), any("abkit_keyed_exposures" in query.sql for query, _ in log)


def test_keyed_analysis_equals_the_string_analysis(random_world, spec_from) -> None:
    db, _, _ = random_world(n_users=600, seed=3, days=3)
    spec = spec_from(end="2026-11-04", winsorize=0.99)
    keyed, used_keys = _run(db, spec)
    plain, used_strings_keys = _run(db, spec, user_keys=False)
    assert used_keys and not used_strings_keys  # each path really ran
    assert keyed["users"]["control"] > 100  # a real analysis, multi-arm users and another experiment included
    assert keyed["excluded_multi_arm_users"] > 0
    assert _close(plain, keyed) == []


def test_a_row_without_its_key_keeps_the_string_path(random_world, spec_from) -> None:
    db, _, _ = random_world(n_users=200, seed=4, days=3)
    con = connect(db)
    con.execute("""INSERT INTO events (event_id, ts, user_id, item_id, type, ingested_at)
                   VALUES ('late', TIMESTAMP '2026-11-02 10:00:00', 'u00001', 'i001', 'click', now())""")
    assert not user_keys_complete(con)  # the new row has no key: keys would miss its user
    con.close()
    spec = spec_from(end="2026-11-04")
    result, used_keys = _run(db, spec)
    plain, _ = _run(db, spec, user_keys=False)
    assert not used_keys
    assert _close(plain, result) == []
