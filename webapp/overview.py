"""The experiments list: specs of the folder and experiments of the warehouse, one row each.

Everything per experiment comes from a few grouped queries (states, latest result fields,
exposure span), never a loop of queries per row.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from webapp.lifecycle import current_states
from webapp.specfiles import SpecFile
from webapp.store import table_exists

STALE_AFTER = dt.timedelta(hours=24)


@dataclass
class ExperimentRow:
    key: str
    name: str = ""
    owner: str = ""
    state: str = "draft"
    state_recorded: bool = False
    days_running: int | None = None
    days_planned: int | None = None
    users: int | None = None
    action: str | None = None
    arm: str | None = None
    verdicts: dict[str, str] = field(default_factory=dict)
    next_step: Any = None
    warnings: list[str] = field(default_factory=list)  # i18n keys
    spec_error: str | None = None
    has_spec: bool = False


def _latest_results(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per experiment, the decision/users/srm of the latest full-window result (else the latest)."""
    if not table_exists(con, "results"):
        return {}
    rows = con.execute(
        """SELECT experiment, json_extract(result, '$.decision'), json_extract(result, '$.users'),
                  json_extract(result, '$.srm'), computed_at
           FROM (SELECT *, row_number() OVER (PARTITION BY experiment
                                              ORDER BY (as_of IS NULL) DESC, computed_at DESC) AS rn FROM results)
           WHERE rn = 1"""
    ).fetchall()
    out = {}
    for exp, decision, users, srm, computed_at in rows:
        def load(text: Any) -> Any:
            try:
                return json.loads(text) if isinstance(text, str) else text
            except ValueError:
                return None
        out[exp] = {"decision": load(decision) or {}, "users": load(users) or {}, "srm": load(srm) or {},
                    "computed_at": computed_at}
    return out


def _exposure_span(con: duckdb.DuckDBPyConnection, without_results: list[str]) -> dict[str, tuple[Any, Any, int | None]]:
    """(first ts, last ts, distinct users or None) per experiment; users only where no result has them."""
    if not table_exists(con, "exposures"):
        return {}
    span: dict[str, tuple[Any, Any, int | None]] = {e: (lo, hi, None) for e, lo, hi in
            con.execute("SELECT experiment, min(ts), max(ts) FROM exposures GROUP BY experiment").fetchall()}
    if without_results:
        for e, n in con.execute("SELECT experiment, count(DISTINCT user_id) FROM exposures "
                                "WHERE experiment IN (SELECT unnest(?)) GROUP BY experiment",
                                [without_results]).fetchall():
            lo, hi, _ = span[e]
            span[e] = (lo, hi, int(n))
    return span


def _quarantined(con: duckdb.DuckDBPyConnection) -> int:
    if not table_exists(con, "quarantine"):
        return 0
    row = con.execute("SELECT count(*) FROM quarantine").fetchone()
    return int(row[0]) if row else 0


def experiment_rows(con: duckdb.DuckDBPyConnection | None, specs: dict[str, SpecFile],
                    now: dt.datetime) -> tuple[list[ExperimentRow], int]:
    """The list's rows (specs first, then warehouse-only experiments) and the quarantined row count."""
    states = current_states(con)
    results = _latest_results(con) if con is not None else {}
    keys = list(dict.fromkeys([*specs, *sorted(states), *sorted(results)]))
    span = _exposure_span(con, [k for k in keys if k not in results]) if con is not None else {}
    if con is not None:
        keys += sorted(k for k in span if k not in keys)
    rows = []
    for key in keys:
        row = ExperimentRow(key=key)
        sf = specs.get(key)
        spec = sf.spec if sf else None
        row.has_spec = sf is not None
        row.spec_error = sf.error if sf else None
        if key in states:
            row.state, row.state_recorded = states[key][0], True
        if spec is not None:
            row.name, row.owner = spec.name or "", spec.owner or ""
            row.days_planned = (spec.end - spec.start).days
        first, last, users = span.get(key, (None, None, None))
        res = results.get(key)
        if res:
            d = res["decision"] if isinstance(res["decision"], dict) else {}
            row.action, row.arm = d.get("action"), d.get("arm")
            arms = d.get("arms")
            if isinstance(arms, dict):
                row.verdicts = {str(a): str(v.get("verdict") if isinstance(v, dict) else v) for a, v in arms.items()}
            elif isinstance(arms, list):
                row.verdicts = {str(v.get("arm")): str(v.get("verdict")) for v in arms if isinstance(v, dict)}
            row.next_step = d.get("next_step") or None  # messages; the page renders them in its language
            u = res["users"]
            row.users = int(sum(v for v in u.values() if isinstance(v, int | float))) if isinstance(u, dict) else None
            if isinstance(res["srm"], dict) and res["srm"].get("ok") is False:
                row.warnings.append("warn_srm")
        else:
            row.users = users
        if first is not None and spec is not None and row.state != "draft":
            lo, hi = spec.window_utc()
            end = min(last, hi) if row.state != "running" else min(max(now, last), hi)
            row.days_running = max(0, min((end - lo).days + (1 if (end - lo) % dt.timedelta(days=1) else 0),
                                          row.days_planned or 0))
        if row.state == "running" and last is not None and now - last > STALE_AFTER:
            row.warnings.append("warn_stale")
        if row.state == "running" and first is None:
            row.warnings.append("warn_no_data")
        rows.append(row)
    return rows, _quarantined(con) if con is not None else 0
