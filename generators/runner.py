"""`abkit generate`: write, for every arm of a spec, the reasons for every (item, segment) it needs.

* Candidate items: the `items` argument, else `spec.candidate_items` (a Parquet/CSV/JSONL file
  or a table; a list of bare item_ids is completed from the `items` table), else the whole
  `items` table.
* Segments: personalized arms (neural, personalized: true) need each of spec.segments (default:
  the distinct users.segment); every other arm writes one reason per item with segment NULL
  (the serving side looks up (item, segment), then falls back to (item, NULL)).
* Resumable and idempotent: each request's reason_id is derived from its key (generators.base,
  with the experiment key added to the hashed settings so two experiments never share rows);
  ids already stored are skipped, and batches are written in their own transactions (buffered to
  a few thousand rows or two seconds), so a killed run continues where it stopped and nothing is
  written twice.
* Sharding: --shard i/n keeps the pairs whose sha256 of (item_id, segment) is i mod n.
* Columnar generators (the template: `generate_columns`) run chunk by chunk as Arrow columns —
  parse, ids, the anti-join on stored ids, texts and the store write, with no object per row; two
  chunks are made side by side on two threads (Arrow, numpy and DuckDB release the GIL) and written
  in item order by the calling thread. The others (neural) get ReasonRequest batches of `batch_size`.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from abkit.errors import AbkitError
from abkit.spec import GeneratorSettings, Spec
from abkit.warehouse import check_identifier, has_table
from generators.base import Generator, ReasonRequest, RequestColumns, reason_ids, reason_keys, stable_hash
from generators.columns import item_columns, join, json_quote, sha256_int
from generators.store import existing_reason_ids, write_reason_table, write_reasons

ITEM_COLUMNS = ["item_id", "category", "brand", "title", "price", "discount", "attributes"]
_ITEM_CHUNK = 20_000
_COLUMN_CHUNK = 50_000  # items per columnar chunk
FLUSH_ROWS = 8_192
FLUSH_SECONDS = 2.0


class GenerateError(AbkitError):
    """A one-line problem with a generation run."""


# -- generators ---------------------------------------------------------------------------------

def get_generator(settings: GeneratorSettings) -> Generator:
    """The generator for an arm's settings; neural is imported lazily (keras only when needed)."""
    if settings.type == "template":
        from generators.template import TemplateGenerator

        return TemplateGenerator()
    if settings.type == "neural":
        from generators.neural.generator import NeuralGenerator

        return NeuralGenerator(model_path=settings.model)
    raise GenerateError(f"generator type {settings.type!r} writes no reasons here (texts come from outside)")


def needs_segments(settings: GeneratorSettings) -> bool:
    return settings.type == "neural" and settings.personalized


def key_settings(settings: GeneratorSettings, experiment: str) -> dict[str, Any]:
    """The settings dict given to generators and hashed into reason ids."""
    return {**settings.model_dump(mode="json"), "experiment": experiment}


def shard_index(item_id: str, segment: str | None, n: int) -> int:
    """Stable shard of an (item, segment) pair: sha256-based, the same on every machine."""
    return int(stable_hash([item_id, segment]), 16) % n


def shard_indices(item_ids: pa.Array, segments: pa.Array, n: int) -> np.ndarray:
    """shard_index of every (item, segment) row, hashed in bulk (the same JSON bytes as stable_hash)."""
    blob = join("[", json_quote(item_ids), ",", pc.fill_null(json_quote(segments), "null"), "]")
    return (sha256_int(blob, 16) % np.uint64(n)).astype(np.int64)


# -- inputs -------------------------------------------------------------------------------------

def _items_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        """
        SELECT item_id, category, brand, title, price, discount, CAST(attributes AS VARCHAR) AS attributes
        FROM items
        ORDER BY item_id
        """
    ).df()


def read_items_file(path: str | Path) -> pd.DataFrame:
    """A Parquet / CSV / JSON Lines file of items (or of bare item_ids); ids stay strings."""
    path = Path(path)
    if not path.exists():
        raise GenerateError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix == ".csv":
            df = pd.read_csv(path, dtype={"item_id": str})
        elif suffix in (".jsonl", ".json", ".ndjson"):
            df = pd.read_json(path, lines=True, dtype={"item_id": str})
        else:
            raise GenerateError(f"{path}: unknown item file type {suffix!r} (parquet, csv or jsonl)")
    except (ValueError, OSError) as exc:
        raise GenerateError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from None
    if "item_id" not in df.columns:
        raise GenerateError(f"{path}: missing column item_id")
    df["item_id"] = df["item_id"].astype(str)
    return df


def candidate_items(spec: Spec, con: duckdb.DuckDBPyConnection, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """The items the experiment recommends, with their facts (see the module docstring)."""
    if items is None and spec.candidate_items:
        source = spec.candidate_items
        if Path(source).exists() or Path(source).suffix:
            items = read_items_file(source)
        else:
            check_identifier(source)
            if not has_table(con, source):
                raise GenerateError(f"candidate_items {source!r}: no such file or table")
            items = con.execute(f"SELECT * FROM {source}").df()  # identifier checked above
            if "item_id" not in items.columns:
                raise GenerateError(f"candidate_items table {source}: missing column item_id")
            items["item_id"] = items["item_id"].astype(str)
    if items is None:
        if not has_table(con, "items"):
            raise GenerateError("no candidate items: pass --items, set candidate_items, or ingest items")
        return _normalize(_items_table(con))
    missing = [c for c in ITEM_COLUMNS if c not in items.columns]
    if missing and missing != ["discount"]:
        # Bare ids (or partial rows): complete them from the items table.
        ids = items[["item_id"]].drop_duplicates()
        table = _items_table(con) if has_table(con, "items") else pd.DataFrame(columns=ITEM_COLUMNS)
        items = ids.merge(table, on="item_id", how="inner")
        out = _normalize(items)
        out.attrs["missing_items"] = len(ids) - len(out)
        return out
    return _normalize(items)


def _normalize(items: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"item_id": items["item_id"].astype(str)})
    for col in ("category", "brand", "title"):
        out[col] = items[col].fillna("").astype(str) if col in items.columns else ""
    out["price"] = pd.to_numeric(items.get("price", 0.0), errors="coerce").fillna(0.0).astype(float)
    disc = items["discount"] if "discount" in items.columns else 0.0
    out["discount"] = pd.to_numeric(disc, errors="coerce").fillna(0.0).astype(float)
    out["attributes"] = items["attributes"] if "attributes" in items.columns else "{}"
    return out.drop_duplicates("item_id").reset_index(drop=True)


def segments_for(spec: Spec, con: duckdb.DuckDBPyConnection) -> list[str]:
    if spec.segments:
        return list(spec.segments)
    if has_table(con, "users"):
        rows = con.execute("SELECT DISTINCT segment FROM users WHERE segment IS NOT NULL ORDER BY 1").fetchall()
        if rows:
            return [r[0] for r in rows]
    raise GenerateError("a personalized arm needs segments: set `segments` in the spec or ingest users")


# -- report -------------------------------------------------------------------------------------

@dataclass
class ArmReport:
    arm: str
    generator: str
    model_version: str
    segments: int
    pairs: int = 0  # (item, segment) pairs in this shard
    existing: int = 0  # already stored, skipped
    generated: int = 0
    written: int = 0
    seconds: float = 0.0

    @property
    def reasons_per_second(self) -> float:
        return self.generated / self.seconds if self.seconds > 0 else 0.0


@dataclass
class GenerateReport:
    experiment: str
    items: int
    bad_items: int = 0  # attributes that are not a JSON object: skipped, counted
    missing_items: int = 0  # candidate ids not found in the items table
    shard: tuple[int, int] | None = None
    arms: list[ArmReport] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(a.written for a in self.arms)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for a, rep in zip(d["arms"], self.arms, strict=True):
            a["reasons_per_second"] = round(rep.reasons_per_second, 1)
        return d

    def summary(self) -> str:
        lines = [f"{self.experiment}: {self.items} candidate items"
                 + (f" ({self.bad_items} skipped: bad attributes)" if self.bad_items else "")
                 + (f" ({self.missing_items} candidate ids not in items)" if self.missing_items else "")
                 + (f", shard {self.shard[0]}/{self.shard[1]}" if self.shard else "")]
        for a in self.arms:
            lines.append(f"  {a.arm:<20} {a.generator}/{a.model_version}: {a.pairs} needed, {a.existing} existing, "
                         f"{a.written} written ({a.reasons_per_second:,.0f} reasons/s)")
        return "\n".join(lines)


# -- the run ------------------------------------------------------------------------------------

def _parse_attrs(values: list[Any]) -> list[dict[str, str] | None]:
    out: list[dict[str, str] | None] = []
    for v in values:
        try:
            d = v if isinstance(v, dict) else json.loads(v) if isinstance(v, str) and v else {}
        except ValueError:
            d = None
        out.append({str(k): str(x) for k, x in d.items() if x is not None} if isinstance(d, dict) else None)
    return out


def _request_chunks(items: pd.DataFrame, segments: list[str | None], length: str,
                    ) -> Iterator[tuple[list[ReasonRequest], int]]:
    """(requests for item × segment, bad item count) per chunk of items."""
    for start in range(0, len(items), _ITEM_CHUNK):
        chunk = items.iloc[start:start + _ITEM_CHUNK]
        attrs = _parse_attrs(chunk["attributes"].tolist())
        reqs: list[ReasonRequest] = []
        bad = 0
        for item_id, cat, brand, title, price, disc, a in zip(
            chunk["item_id"], chunk["category"], chunk["brand"], chunk["title"], chunk["price"], chunk["discount"],
            attrs, strict=True,
        ):
            if a is None:
                bad += 1
                continue
            reqs.extend(ReasonRequest(item_id, cat, brand, title, float(price), float(disc), a, seg, length)
                        for seg in segments)
        yield reqs, bad


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="reason", disable=None if enabled else True, smoothing=0.1, dynamic_ncols=True)


# Rough single-machine speeds (reasons per second) for the estimate printed before a run starts:
# the template is string formatting; the neural model samples candidates token by token (CPU).
ROUGH_RATE = {"template": 50_000.0, "neural": 2.5}


def estimate_line(spec: Spec, con: duckdb.DuckDBPyConnection, table: pd.DataFrame, arms: list[Any],
                  shard: tuple[int, int] | None) -> str:
    """'about N reasons to generate (per arm), roughly T' — said before a run that may take long."""
    parts, total, seconds = [], 0, 0.0
    for arm in arms:
        segs = len(segments_for(spec, con)) if needs_segments(arm.generator) else 1
        pairs = len(table) * segs // (shard[1] if shard else 1)
        todo = max(0, pairs - len(existing_reason_ids(con, spec.key, arm.name)))
        total += todo
        seconds += todo / ROUGH_RATE.get(arm.generator.type, ROUGH_RATE["neural"])
        parts.append(f"{arm.name}: {todo:,}")
    line = f"about {total:,} reasons to generate for {len(table):,} items ({', '.join(parts)})"
    if seconds >= 60:
        line += (f", roughly {_duration(seconds)} on a CPU; to try things out first, pass a smaller candidate "
                 "list with --items FILE")
    return line


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_generate(
    spec: Spec,
    con: duckdb.DuckDBPyConnection,
    items: pd.DataFrame | None = None,
    arms: list[str] | None = None,
    batch_size: int = 256,
    shard: tuple[int, int] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> GenerateReport:
    """Generate and store every missing reason the spec's arms need (see the module docstring)."""
    if batch_size < 1:
        raise GenerateError("batch size must be at least 1")
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise GenerateError(f"invalid shard {shard[0]}/{shard[1]} (need 0 <= i < n)")
    known = {a.name for a in spec.arms}
    for name in arms or []:
        if name not in known:
            raise GenerateError(f"unknown arm {name!r} (arms: {', '.join(sorted(known))})")
    chosen = [a for a in spec.arms if (arms is None or a.name in arms)]
    for a in chosen:
        if arms is not None and (a.generator is None or a.generator.type == "external"):
            raise GenerateError(f"arm {a.name!r} has no generator that abkit runs")
    chosen = [a for a in chosen if a.generator is not None and a.generator.type != "external"]

    table = candidate_items(spec, con, items)
    report = GenerateReport(experiment=spec.key, items=len(table), shard=shard,
                            missing_items=int(table.attrs.get("missing_items", 0)))
    if table.empty:
        raise GenerateError("no candidate items to generate for")
    if log is not None:
        log(estimate_line(spec, con, table, chosen, shard))
    cache: dict[tuple[str, str | None], Generator] = {}
    for arm in chosen:
        settings = arm.generator
        assert settings is not None
        ck = (settings.type, settings.model)
        if ck not in cache:
            cache[ck] = get_generator(settings)
        gen = cache[ck]
        segs: list[str | None] = list(segments_for(spec, con)) if needs_segments(settings) else [None]
        ks = key_settings(settings, spec.key)
        rep = ArmReport(arm=arm.name, generator=gen.name, model_version=gen.model_version, segments=len(segs))
        existing = existing_reason_ids(con, spec.key, arm.name)
        if hasattr(gen, "generate_columns"):
            report.bad_items = max(report.bad_items, _run_columnar(gen, con, spec.key, table, segs, settings.length,
                                                                   arm.name, ks, shard, existing, rep, progress))
            report.arms.append(rep)
            continue

        # Pass 1: the missing (item, segment) pairs of this shard.
        todo: list[ReasonRequest] = []
        todo_ids: list[str] = []
        bad_items = 0
        for reqs, bad in _request_chunks(table, segs, settings.length):
            bad_items += bad
            if shard is not None:
                reqs = [r for r in reqs if shard_index(r.item_id, r.segment, shard[1]) == shard[0]]
            ids = reason_keys(reqs, arm=arm.name, model_version=gen.model_version, settings=ks)
            rep.pairs += len(reqs)
            for rid, req in zip(ids, reqs, strict=True):
                if rid in existing:
                    rep.existing += 1
                else:
                    todo.append(req)
                    todo_ids.append(rid)
        report.bad_items = max(report.bad_items, bad_items)

        # Pass 2: generate and write batch by batch (each batch its own transaction).
        # Batches are buffered and written together when the buffer holds FLUSH_ROWS reasons or
        # FLUSH_SECONDS have passed: a commit costs tens of milliseconds, and a kill loses at
        # most that much work (the next run regenerates exactly the missing ids).
        bar = _progress(len(todo), f"{arm.name} ({gen.name})", progress)
        t0 = last_flush = time.perf_counter()
        buffer: list = []
        try:
            for start in range(0, len(todo), batch_size):
                reasons = gen.generate(todo[start:start + batch_size], arm=arm.name, settings=ks)
                if [r.reason_id for r in reasons] != todo_ids[start:start + batch_size]:
                    raise GenerateError(f"generator {gen.name!r} returned reasons whose ids are not "
                                        "generators.base.reason_key of its requests")
                rep.generated += len(reasons)
                buffer.extend(reasons)
                now = time.perf_counter()
                if len(buffer) >= max(batch_size, FLUSH_ROWS) or now - last_flush >= FLUSH_SECONDS:
                    rep.written += write_reasons(con, buffer, spec.key)
                    buffer, last_flush = [], time.perf_counter()
                rep.seconds = time.perf_counter() - t0
                bar.update(len(reasons))
            if buffer:
                rep.written += write_reasons(con, buffer, spec.key)
            rep.seconds = time.perf_counter() - t0
        finally:
            bar.close()
        report.arms.append(rep)
    return report


def _run_columnar(gen: Any, con: duckdb.DuckDBPyConnection, experiment: str, table: pd.DataFrame,
                  segs: list[str | None], length: str, arm: str, settings: dict[str, Any],
                  shard: tuple[int, int] | None, existing: set[str], rep: ArmReport, progress: bool) -> int:
    """One arm of a columnar generator, chunk by chunk: ids in bulk, stored ones skipped, the rest written.
    Returns the number of items with bad attributes; fills rep."""
    stored = pa.array(sorted(existing), pa.string())
    bar = _progress(len(table) * len(segs) // (shard[1] if shard else 1), f"{arm} ({gen.name})", progress)
    t0 = time.perf_counter()
    bad_items = 0
    try:
        for chunk in columnar_chunks(gen, table, segs, length, arm, settings, shard, stored):
            bad_items += chunk.bad_items
            rep.pairs += chunk.pairs
            rep.existing += chunk.existing
            if chunk.reasons is not None:
                rep.generated += chunk.reasons.num_rows
                rep.written += write_reason_table(con, chunk.reasons, experiment)
            rep.seconds = time.perf_counter() - t0
            bar.update(chunk.pairs)
    finally:
        bar.close()
    return bad_items


@dataclass
class ColumnarChunk:
    """What one chunk of items gave: bad items, (item, segment) pairs of this shard, those already stored,
    and the reasons of the others (an Arrow table, `generate_columns`' columns; None when there are none)."""

    bad_items: int
    pairs: int
    existing: int
    reasons: pa.Table | None


def columnar_chunks(gen: Any, table: pd.DataFrame, segs: list[str | None], length: str, arm: str,
                    settings: dict[str, Any], shard: tuple[int, int] | None = None, stored: pa.Array | None = None,
                    threads: int | None = None) -> Iterator[ColumnarChunk]:
    """The chunks of a columnar generator's run over the items frame, in item order.

    Chunks are made on `threads` threads (default: one per core, at most 2): the work is Arrow, numpy and
    DuckDB calls that release the GIL, so two chunks run side by side; at most `threads` chunks wait.
    """
    def one(start: int) -> ColumnarChunk:
        items = item_columns(table.iloc[start:start + _COLUMN_CHUNK])
        req = RequestColumns.cross(items, segs, length)
        if shard is not None:
            keep = shard_indices(req.item_column("item_id"), req.segment, shard[1]) == shard[0]
            req = req.take(np.flatnonzero(keep))
        ids = reason_ids(req, arm=arm, model_version=gen.model_version, settings=settings)
        new = (~pc.is_in(ids, value_set=stored).to_numpy(zero_copy_only=False) if stored is not None and len(stored)
               else np.ones(len(ids), dtype=bool))
        rows = np.flatnonzero(new)
        reasons = None if not len(rows) else gen.generate_columns(
            req if len(rows) == len(req) else req.take(rows), arm=arm, settings=settings,
            ids=ids if len(rows) == len(ids) else ids.take(pa.array(rows)))
        return ColumnarChunk(int(items.bad.sum()), len(req), len(req) - len(rows), reasons)

    starts = range(0, len(table), _COLUMN_CHUNK)
    yield from ordered_map(one, starts, threads or min(2, os.cpu_count() or 1))


def ordered_map(fn: Callable[[Any], Any], args: Any, threads: int) -> Iterator[Any]:
    """fn over args on `threads` threads, results in order; at most `threads` results are ahead of the reader."""
    args = list(args)
    if threads <= 1 or len(args) <= 1:
        yield from map(fn, args)
        return
    with ThreadPoolExecutor(threads) as pool:
        pending: deque[Future[Any]] = deque(pool.submit(fn, a) for a in args[:threads])
        for a in args[threads:]:
            done = pending.popleft().result()
            pending.append(pool.submit(fn, a))
            yield done
        while pending:
            yield pending.popleft().result()
