"""What a server serves from, loaded in one short read-only visit to the warehouse.

DuckDB lets one process write a database file; the server must never be that process, nor
hold the file while ``abkit ingest`` or ``abkit analyze`` run. ``load_snapshot`` opens the
database read-only, reads the specs' current coverage, lifecycle state, reasons and the item
facts the template fallback needs, and closes it. If another process holds the write lock it
retries for ``wait_s`` seconds, then raises (a reload then keeps the previous snapshot).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from abkit.spec import Spec
from abkit.warehouse import WarehouseError, connect, experiment_states, has_table
from serving.coverage import CoverageStep, current_coverage, effective_spec

# Lifecycle states in which an experiment is no longer served (a shipped one serves its shipped arm).
NOT_SERVED_STATES = ("stopped", "rolled_back")


@dataclass(frozen=True)
class ReasonRow:
    arm: str
    item_id: str
    segment: str | None
    reason_id: str
    text: str


@dataclass(frozen=True)
class ItemFacts:
    category: str | None
    brand: str | None
    title: str | None
    price: float | None
    discount: float | None
    attributes: str | None  # JSON object text


@dataclass(frozen=True)
class ExperimentSnapshot:
    spec: Spec  # with the current coverage applied
    step: CoverageStep | None
    state: str | None
    reasons: list[ReasonRow]

    @property
    def shipped_arm(self) -> str | None:
        """The arm every covered user gets, while the experiment is shipped (serving.ship)."""
        return self.step.shipped_arm if self.state == "shipped" and self.step is not None else None

    @property
    def served(self) -> bool:
        """Running (or never recorded), or shipped with a ship step; a ship recorded only as a
        lifecycle row (before ships had coverage steps) serves nobody."""
        if self.state == "shipped":
            return self.shipped_arm is not None
        return self.state not in NOT_SERVED_STATES


@dataclass(frozen=True)
class Snapshot:
    experiments: list[ExperimentSnapshot]
    items: dict[str, ItemFacts]
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))

    @property
    def served(self) -> list[ExperimentSnapshot]:
        return [e for e in self.experiments if e.served]


def _reasons(con: duckdb.DuckDBPyConnection, spec: Spec) -> list[ReasonRow]:
    """One reason per (arm, item, segment): this experiment's before unscoped ones, then the newest."""
    rows = con.execute(
        """SELECT arm, item_id, segment, reason_id, text FROM reasons
           WHERE (experiment = $key OR experiment IS NULL) AND arm IN (SELECT unnest($arms))
           QUALIFY row_number() OVER (PARTITION BY arm, item_id, segment
               ORDER BY experiment IS NULL, created_at DESC NULLS LAST, ingested_at DESC, reason_id) = 1""",
        {"key": spec.key, "arms": spec.arm_names},
    ).fetchall()
    return [ReasonRow(*r) for r in rows]


def _items(con: duckdb.DuckDBPyConnection) -> dict[str, ItemFacts]:
    rows = con.execute(
        """SELECT item_id, any_value(category), any_value(brand), any_value(title), any_value(price),
                  any_value(discount), any_value(CAST(attributes AS VARCHAR)) FROM items GROUP BY item_id"""
    ).fetchall()
    return {r[0]: ItemFacts(*r[1:]) for r in rows}


def _read(con: duckdb.DuckDBPyConnection, specs: Sequence[Spec]) -> Snapshot:
    states = {exp: state for exp, state, _ in experiment_states(con)} if has_table(con, "lifecycle") else {}
    experiments = []
    for spec in specs:
        step = current_coverage(con, spec.key)
        experiments.append(ExperimentSnapshot(effective_spec(spec, step), step, states.get(spec.key),
                                              _reasons(con, spec)))
    return Snapshot(experiments, _items(con))


def load_snapshot(specs: Sequence[Spec], db: str | os.PathLike[str], *, wait_s: float = 10.0) -> Snapshot:
    """Read everything the server needs, holding the database only for the read."""
    keys = [s.key for s in specs]
    dup = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
    if dup is not None:
        raise WarehouseError(f"two specs share the key {dup!r}")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = connect(db, read_only=True)
            break
        except WarehouseError as exc:
            if "in use" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
    try:
        return _read(con, specs)
    finally:
        con.close()
