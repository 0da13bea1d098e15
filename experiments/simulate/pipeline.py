"""`abkit simulate`: warehouse inputs → simulated logs as Parquet (streamed) → the real ingestion.

    report = simulate_into(spec, con, SimOptions(seed=1), n_users=20_000, out_dir="sim/")

Inputs come from the warehouse (items, users, this experiment's reasons); an empty items or
users table is first filled with a generated catalog / population (through ingestion too).
Users are read back in Arrow batches (never all at once); logs are written chunk by chunk
(bounded memory, a progress bar) as the files a serving system would deliver — with the stress
options' artefacts (duplicate rows, a late batch) — and then ingested with
experiments.ingest.ingest_files (DuckDB's own Parquet reader: no DataFrame of the logs), in one
place, ``_ingest``: the simulator never writes the log tables itself.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from abkit.atomic import atomic_write_text
from abkit.errors import AbkitError
from abkit.spec import Spec
from abkit.warehouse import one_row
from experiments.simulate.traffic import (
    EVENT_SCHEMA,
    EXPOSURE_SCHEMA,
    SimOptions,
    World,
    build_world,
    chunk_tables,
    iter_chunks,
)
from experiments.simulate.truth import TruthAccumulator
from experiments.simulate.users import UserSource


@dataclass
class SimOutput:
    """What a simulation wrote and measured."""

    files: dict[str, list[str]]
    truth: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    fallback_rate: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    peak_rss_mb: float | None = None
    warnings: list[str] = field(default_factory=list)  # things the user must hear about (printed by the CLI)
    truth_written: bool = False

    def summary(self) -> dict[str, Any]:
        rows = self.counts.get("exposure_rows", 0) + self.counts.get("event_rows", 0)
        return {"counts": self.counts, "fallback_rate": self.fallback_rate, "seconds": round(self.seconds, 3),
                "rows_per_second": round(rows / self.seconds) if self.seconds > 0 else None,
                "peak_rss_mb": self.peak_rss_mb, "files": self.files}


def _peak_rss_mb() -> float | None:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except (ImportError, OSError):
        return None


def _sample(rng: np.random.Generator, table: pa.Table, rate: float) -> pa.Table:
    if rate <= 0 or table.num_rows == 0:
        return table.slice(0, 0)
    return table.take(pa.array(np.flatnonzero(rng.random(table.num_rows) < rate)))


def _writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """Dictionaries only for the repetitive columns and statistics only for ts: unique ids
    (event_id, order_id) gain nothing from either, and they were a third of the writing time."""
    repetitive = [c for c in ("experiment", "user_id", "item_id", "arm", "reason_id", "platform", "type")
                  if c in schema.names]
    return pq.ParquetWriter(str(path), schema, use_dictionary=repetitive, write_statistics=["ts"])


def simulate_to_parquet(world: World, out_dir: str | os.PathLike[str], *, progress: bool = False) -> SimOutput:
    """Stream every chunk's exposures and events to Parquet files under out_dir."""
    from tqdm import tqdm

    opt = world.options
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"exposures": out / "exposures.parquet", "events": out / "events.parquet",
             "events_late": out / "events_late.parquet"}
    writers = {"exposures": _writer(paths["exposures"], EXPOSURE_SCHEMA), "events": _writer(paths["events"], EVENT_SCHEMA)}
    if opt.late_events > 0:
        writers["events_late"] = _writer(paths["events_late"], EVENT_SCHEMA)
    truth = TruthAccumulator(world.arms, world.day_names, segments=list(world.seg_names))
    n_arms = len(world.arms)
    counts = dict.fromkeys(("users_enrolled", "users_lost_srm_bug", "exposures", "events", "exposure_rows",
                            "event_rows", "late_event_rows", "duplicate_rows", "fallback_exposures"), 0)
    fb = np.zeros(n_arms)
    shown = np.zeros(n_arms)
    rng = np.random.default_rng([opt.seed, 23])
    t0 = time.perf_counter()
    n_chunks = -(-world.n_users // opt.chunk_users)
    bar = tqdm(total=world.n_users, unit="user", desc="simulate", disable=None if progress and n_chunks >= 2 else True,
               file=None, leave=False)
    try:
        for ch in iter_chunks(world):
            truth.merge(ch.truth)
            counts["users_enrolled"] += len(ch.users)
            counts["users_lost_srm_bug"] += ch.n_lost
            exposures, events = chunk_tables(world, ch)
            counts["exposures"] += exposures.num_rows
            counts["events"] += events.num_rows
            shown += np.bincount(ch.x_arm, minlength=n_arms)
            fb += np.bincount(ch.x_arm[ch.x_fallback], minlength=n_arms)
            late = None
            if opt.late_events > 0:
                mask = rng.random(events.num_rows) < opt.late_events
                late = events.filter(pa.array(mask))
                events = events.filter(pa.array(~mask))
            dup_x, dup_e = _sample(rng, exposures, opt.duplicates), _sample(rng, events, opt.duplicates)
            counts["duplicate_rows"] += dup_x.num_rows + dup_e.num_rows
            for name, table in (("exposures", exposures), ("exposures", dup_x), ("events", events),
                                ("events", dup_e), ("events_late", late)):
                if table is not None and table.num_rows:
                    writers[name].write_table(table)
                    counts["exposure_rows" if name == "exposures" else "event_rows"] += table.num_rows
                    if name == "events_late":
                        counts["late_event_rows"] += table.num_rows
            bar.update(min(opt.chunk_users, world.n_users - ch.index * opt.chunk_users))
    finally:
        bar.close()
        for wr in writers.values():
            wr.close()
    counts["fallback_exposures"] = int(fb.sum())
    files = {name: [str(paths[name])] for name in writers}
    total_fb = float(fb.sum() / shown.sum()) if shown.sum() else 0.0
    fallback = {"overall": total_fb, **{a: float(fb[i] / shown[i]) if shown[i] else 0.0 for i, a in enumerate(world.arms)}}
    meta = {"experiment": world.spec.key, "seed": opt.seed, "mode": opt.mode,
            "window_utc": [t.isoformat() + "Z" for t in world.spec.window_utc()],
            "simulated_users": int(world.n_users), "bots": opt.bots, "fallback_rate": fallback,
            "note": "ratios of expectations over the window, every arm evaluated on every simulated user"}
    return SimOutput(files, truth.to_json(world.spec.control_arm, **meta), counts, fallback,
                     time.perf_counter() - t0, _peak_rss_mb())


# --- the warehouse side -----------------------------------------------------------------------

def _table_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(one_row(con.execute(f"SELECT count(*) FROM {table}"))[0])  # table: a fixed name


def _ingest(con: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> Any:
    from experiments.ingest.files import ingest_files

    return ingest_files(con, table, files)


def load_items(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        """SELECT item_id, category, brand, title, price, discount, CAST(attributes AS VARCHAR) AS attributes,
                  TRY_CAST(extra['popularity'] AS DOUBLE) AS popularity, extra['subcategory'] AS subcategory
           FROM items
           ORDER BY item_id"""
    ).df()


_USERS_SQL = """SELECT user_id, segment, extra['platform'] AS platform,
                        TRY_CAST(extra['activity'] AS DOUBLE) AS activity,
                        TRY_CAST(extra['click_propensity'] AS DOUBLE) AS click_propensity,
                        CASE WHEN lower(extra['is_new']) IN ('true', '1') THEN true
                             WHEN lower(extra['is_new']) IN ('false', '0') THEN false END AS is_new
                 FROM users
                 ORDER BY user_id LIMIT ?"""
_USER_ATTRIBUTES = ("activity", "click_propensity", "is_new")  # used only when every user has them
USER_BATCH_ROWS = 500_000


def load_users(con: duckdb.DuckDBPyConnection, limit: int | None) -> UserSource:
    """The users table (the first ``limit`` by user_id), read in Arrow batches when simulating."""
    params = [limit if limit is not None else 2**62]
    n, *missing = one_row(con.execute(
        f"SELECT count(*), {', '.join(f'count(*) - count({c})' for c in _USER_ATTRIBUTES)} FROM ({_USERS_SQL})",
        params))
    dropped = [c for c, k in zip(_USER_ATTRIBUTES, missing, strict=True) if k]

    def frames() -> Iterator[pd.DataFrame]:
        cur = con.cursor()
        try:
            reader = cur.sql(_USERS_SQL, params=params).to_arrow_reader(USER_BATCH_ROWS)
            for batch in reader:
                yield batch.to_pandas().drop(columns=dropped)
        finally:
            cur.close()

    return UserSource(int(n), frames)


def load_reasons(con: duckdb.DuckDBPyConnection, spec: Spec) -> pd.DataFrame:
    return con.execute(
        """SELECT reason_id, experiment, arm, item_id, segment, text, created_at FROM reasons
           WHERE (experiment = ? OR experiment IS NULL) AND arm IN (SELECT unnest(?))""",
        [spec.key, spec.arm_names],
    ).df()


def _require_reasons(spec: Spec, reasons: pd.DataFrame, *, world_added: bool) -> None:
    """Without texts every arm shows the same fallback (the item title): an A/A test by accident."""
    have = set(reasons["arm"].dropna())
    missing = [a for a in spec.arm_names if a not in have]
    if missing:
        added = "; the generated catalog and users were stored, " if world_added else "; "
        raise AbkitError(
            f"no reasons for arm(s) {', '.join(map(repr, missing))} of {spec.key!r}: every exposure would show the "
            f"fallback text, so the arms would not differ (an A/A test by accident){added}run `abkit generate SPEC "
            "--db DB` (or `abkit ingest reasons`) and simulate again, or use --mode aa for an intended A/A test")


def fill_world(con: duckdb.DuckDBPyConnection, out_dir: str | os.PathLike[str], *, seed: int = 0,
               n_users: int | None = None, n_items: int = 2000) -> dict[str, Any]:
    """Generate and ingest a catalog / population where the items / users table is empty."""
    from abkit.world.catalog import make_catalog
    from experiments.simulate.population import write_users

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ingested: dict[str, Any] = {}
    if _table_rows(con, "items") == 0:
        path = out / "items.parquet"
        make_catalog(n_items, seed).to_parquet(path, index=False)
        ingested["items"] = _ingest(con, "items", [str(path)])
    if _table_rows(con, "users") == 0:
        path = write_users(n_users or 20_000, out / "users.parquet", seed=seed)
        ingested["users"] = _ingest(con, "users", [str(path)])
    return ingested


def simulate_into(spec: Spec, con: duckdb.DuckDBPyConnection, options: SimOptions, *, n_users: int | None = None,
                  n_items: int = 2000, out_dir: str | os.PathLike[str], progress: bool = False,
                  truth_path: str | os.PathLike[str] | None = None) -> SimOutput:
    """Fill missing items/users, simulate the experiment, ingest the logs, write the truth."""
    out = Path(out_dir)
    ingested = fill_world(con, out, seed=options.seed, n_users=n_users, n_items=n_items)
    reasons = load_reasons(con, spec)
    if options.mode != "aa":  # the catalog and users stay: `abkit generate` needs the catalog
        _require_reasons(spec, reasons, world_added=bool(ingested))
    world = build_world(spec, load_users(con, n_users), load_items(con), reasons, options)
    result = simulate_to_parquet(world, out, progress=progress)
    for table in ("exposures", "events", "events_late"):
        if table in result.files:
            ingested[table] = _ingest(con, "events" if table == "events_late" else table, result.files[table])
    result.counts.update({f"ingested_{k}": int(v.total.accepted) for k, v in ingested.items()})
    result.counts.update({f"duplicates_skipped_{k}": int(v.total.duplicates) for k, v in ingested.items()})
    stale = result.counts.get("exposures", 0) > 0 and result.counts.get("ingested_exposures", 0) == 0
    result.truth_written = truth_path is not None and not stale
    if stale:  # these logs were stored by an earlier run, whose texts may differ: its truth stays
        result.warnings.append(
            "the database already holds these simulated logs (0 new exposures): nothing new was stored"
            + (f" and {truth_path} was left as it was, since a truth recomputed now would not describe the stored"
               " logs" if truth_path is not None else "")
            + "; use a fresh --db or another --seed")
    elif truth_path is not None:
        atomic_write_text(truth_path, json.dumps(result.truth, ensure_ascii=False, indent=2))
    return result


__all__ = ["SimOutput", "fill_world", "simulate_into", "simulate_to_parquet", "load_items", "load_users", "load_reasons"]
