"""Template generator throughput: today's per-row generator (frozen here) vs the columnar one, one run.

Generator alone, from the same items frame:
(b) before: the generator as it was before the columnar rewrite — its batched `reason_keys` (JSON per
    row, two sha256 per row; frozen below so the baseline cannot drift), the per-row
    `TemplateGenerator.write` and one Reason object per row; timed from prebuilt ReasonRequests (parsed attributes), as it was measured;
(c) after, one batch on one thread: `TemplateGenerator.generate_columns` from the items frame (attributes
    still JSON text, so the parse is inside the timing), both id hashes in one DuckDB pass, texts as columns;
(d) after, as `abkit generate` runs it: the runner's `columnar_chunks` (50k-item chunks on two threads).
"reasons/s" of (b)-(d) counts rows ready to write: every reason's id hashed (both sha256), its text and
its feature columns (mentions JSON, promotion flag, length bucket) built; (c) and (d) also parse the
attributes' JSON text. The warehouse write is in the whole path only. "CPU/wall" is CPU seconds over wall
seconds: how much ran side by side (at most the cores free; ~1 for one thread).
Whole `abkit generate` path, items Parquet file in, reasons in a fresh DuckDB warehouse:
(a) before: read the file, one ReasonRequest per item (json.loads), (b), and `write_reasons` of the objects;
(e) after: `read_items_file` + `run_generate` (what `abkit generate --items FILE` runs for a template arm).
All give identical reasons (ids, texts, features; checked, and the stored rows compared). Best of
--repeats, alternated; wall and CPU seconds (all threads) with the load average, since the machine is
shared. The stage breakdown of both is printed first (--profile-only stops there).

    python benchmarks/bench_template.py --items 200000
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import json.encoder
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abkit.spec import parse_spec  # noqa: E402
from abkit.warehouse import connect  # noqa: E402
from abkit.world import vocab  # noqa: E402
from abkit.world.catalog import make_catalog  # noqa: E402
from generators.base import Reason, ReasonRequest, RequestColumns, paused_gc, reason_ids, stable_hash  # noqa: E402
from generators.columns import item_columns  # noqa: E402
from generators.runner import _normalize, columnar_chunks, key_settings, read_items_file, run_generate  # noqa: E402
from generators.store import write_reasons  # noqa: E402
from generators.template import TemplateGenerator, reasons_from_table  # noqa: E402

# ---- frozen: generators/base.py reason_keys as of commit 0162d56 (the per-row text is today's
# TemplateGenerator.write, which the columnar path still uses for rows without a vocabulary order) ------
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (_c_make_encoder(None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True)
             if _c_make_encoder else None)
_ENCODE_STR = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def _dumps(obj: Any) -> str:
    return _ENCODER.encode(obj) if _C_ENCODE is None else "".join(_C_ENCODE(obj, 0))


def _dumps_str(value: Any) -> str:
    return _ENCODE_STR(value) if type(value) is str else _dumps(value)


def frozen_reason_keys(requests: list[ReasonRequest], *, arm: str, model_version: str,
                       settings: dict[str, Any]) -> list[str]:
    dumps, dstr, sha = _dumps, _dumps_str, hashlib.sha256
    head = '{"arm":' + _ENCODER.encode(arm) + ',"attributes":"'
    model = ',"model":' + _ENCODER.encode(model_version) + ',"segment":'
    tail = ',"settings":' + _ENCODER.encode(stable_hash(settings)) + "}"
    attr_hash: dict[tuple[Any, ...], str] = {}
    keys = [(id(r.attributes), r.category, r.brand, r.title, r.price, r.discount, r.length) for r in requests]
    for key, r in zip(keys, requests, strict=True):
        if key not in attr_hash:
            attr_hash[key] = sha(dumps([r.category, r.brand, r.title, r.price, r.discount,
                                        sorted(r.attributes.items()), r.length]).encode("utf-8")).hexdigest()[:16]
    blobs = [head + attr_hash[key] + '","item":' + dstr(r.item_id) + model
             + ("null" if r.segment is None else dstr(r.segment)) + tail for key, r in zip(keys, requests, strict=True)]
    return ["r_" + sha(b.encode("utf-8")).hexdigest()[:20] for b in blobs]


def frozen_generate(requests: list[ReasonRequest], arm: str, settings: dict[str, Any],
                    stages: dict[str, float] | None = None) -> list[Reason]:
    """TemplateGenerator.generate before the columnar rewrite (per-row write, one Reason per row)."""
    with paused_gc():
        t0 = time.perf_counter()
        ids = frozen_reason_keys(requests, arm=arm, model_version="template-v1", settings=settings)
        t1 = time.perf_counter()
        settings_hash = stable_hash(settings)
        rate = float(settings.get("inject_unfaithful_rate") or 0.0)
        if rate > 0:
            seeds = [int(hashlib.sha256(rid.encode("utf-8")).hexdigest()[:8], 16) for rid in ids]
            fake = [seed if seed / 2**32 < rate else None for seed in seeds]
            written = [TemplateGenerator.write(req, fake_promo_seed=f) for req, f in zip(requests, fake, strict=True)]
        else:
            fake = [None] * len(requests)
            written = [TemplateGenerator.write(req) for req in requests]
        t2 = time.perf_counter()
        out = [Reason(rid, req.item_id, req.segment, arm, text, "template", "template-v1", settings_hash,
                      {"mentions": mentions, "mentions_promo": has_promo, "length": vocab.length_bucket(len(text)),
                       "corrupted": None if f is None else "fake_discount", "ai_generated": False})
               for rid, req, (text, mentions, has_promo), f in zip(ids, requests, written, fake, strict=True)]
        t3 = time.perf_counter()
    if stages is not None:
        stages.update({"ids (JSON + 2 sha256 per row)": t1 - t0, "texts (per-row write)": t2 - t1,
                       "Reason objects": t3 - t2})
    return out
# ---- end of the frozen copy ---------------------------------------------------------------------------------


def build_requests(items: Any) -> list[ReasonRequest]:
    """What the runner built before generating: one ReasonRequest per item, attributes parsed."""
    return [ReasonRequest(i, c, b, t, float(p), float(d), json.loads(a), None, "M")
            for i, c, b, t, p, d, a in zip(items.item_id, items.category, items.brand, items.title, items.price,
                                           items.discount, items.attributes, strict=True)]


def columnar(items: Any, settings: dict[str, Any], stages: dict[str, float] | None = None) -> Any:
    """The columnar generator from the items frame: parse, ids in bulk, texts as columns."""
    gen = TemplateGenerator()
    t0 = time.perf_counter()
    cols = RequestColumns.cross(item_columns(items), [None], "M")
    t1 = time.perf_counter()
    ids = reason_ids(cols, arm="control", model_version=gen.model_version, settings=settings)
    t2 = time.perf_counter()
    table = gen.generate_columns(cols, arm="control", settings=settings, ids=ids)
    t3 = time.perf_counter()
    if stages is not None:
        stages.update({"parse attributes (JSON text -> pairs, cut from bytes)": t1 - t0,
                       "ids (JSON + both sha256 in one DuckDB statement)": t2 - t1,
                       "texts + table (numpy clause loop, part columns)": t3 - t2})
    return table


def chunked(table: Any, settings: dict[str, Any], threads: int) -> Any:
    """The runner's columnar chunks of the normalized items frame (no store), concatenated."""
    import pyarrow as pa

    chunks = columnar_chunks(TemplateGenerator(), table, [None], "M", "control", settings, threads=threads)
    return pa.concat_tables([c.reasons for c in chunks if c.reasons is not None])


SPEC: dict[str, Any] = {"key": "bench", "arms": [{"name": "control", "weight": 0.5, "generator": {"type": "template"}},
                                 {"name": "manual", "weight": 0.5, "generator": {"type": "external"}}],
        "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "ctr"}


def whole_settings(inject: float) -> tuple[Any, dict[str, Any]]:
    """The spec of the whole path and its template arm's hashed settings (runner.key_settings)."""
    spec = parse_spec({**SPEC, "arms": [{**SPEC["arms"][0], "generator": {"type": "template",
                                         "inject_unfaithful_rate": inject}}, SPEC["arms"][1]]})
    assert spec.arms[0].generator is not None
    return spec, key_settings(spec.arms[0].generator, spec.key)


def whole_before(path: Path, db: Path, settings: dict[str, Any]) -> list[Reason]:
    """The per-row path, file to warehouse: read, parse per row, frozen generator, write Reason objects."""
    reasons = frozen_generate(build_requests(read_items_file(path)), "control", settings)
    con = connect(db)
    try:
        write_reasons(con, reasons, "bench")
    finally:
        con.close()
    return reasons


def whole_after(path: Path, db: Path, spec: Any) -> int:
    """`abkit generate --items FILE` for the template arm: read, run_generate into the warehouse."""
    con = connect(db)
    try:
        return run_generate(spec, con, items=read_items_file(path), progress=False).written
    finally:
        con.close()


def stored(db: Path) -> Any:
    """The stored reasons, in id order (to compare the two whole paths)."""
    con = connect(db, read_only=True)
    try:
        return con.execute("SELECT reason_id, item_id, segment, arm, text, generator, model_version, extra "
                           "FROM reasons ORDER BY reason_id").fetchall()
    finally:
        con.close()


def _best(fn: Callable[[], Any], seconds: dict[str, tuple[float, float]], name: str) -> Any:
    """fn(), keeping the best (wall, CPU) seconds under name."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    w, c = time.perf_counter() - w, time.process_time() - c
    if w < seconds.get(name, (float("inf"), 0.0))[0]:
        seconds[name] = (w, c)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="threads of the runner's chunks in (d)")
    ap.add_argument("--inject", type=float, default=0.0, help="inject_unfaithful_rate of the settings")
    ap.add_argument("--profile-only", action="store_true", help="print the stage breakdown and stop")
    ap.add_argument("--skip-whole", action="store_true", help="time the generator alone, not the file-to-warehouse path")
    args = ap.parse_args(argv)
    items = make_catalog(args.items, seed=4)
    n = len(items)
    settings = {"type": "template", "length": "M", "experiment": "bench", "inject_unfaithful_rate": args.inject}

    before_stages: dict[str, float] = {}
    after_stages: dict[str, float] = {}
    t0 = time.perf_counter()
    reqs = build_requests(items)
    before_stages = {"requests (json.loads + ReasonRequest per row)": time.perf_counter() - t0}
    frozen_generate(reqs, "control", settings, before_stages)
    columnar(items, settings, after_stages)
    print(f"stage breakdown, {n:,} items, one run each, load {os.getloadavg()[0]:.1f}")
    for title, stages in (("before", before_stages), ("after", after_stages)):
        for stage, sec in stages.items():
            print(f"  {title:<7}{stage:<56}{sec:8.3f} s{sec / n * 1e6:8.2f} us/row")
    if args.profile_only:
        return {}

    table = _normalize(items)
    spec, spec_settings = whole_settings(args.inject)
    seconds: dict[str, tuple[float, float]] = {}
    outputs: dict[str, Any] = {}
    whole = {} if args.skip_whole else {"whole_before": 0, "whole_after": 0}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.parquet"
        items.to_parquet(path)
        dbs = {name: Path(tmp) / f"{name}.duckdb" for name in whole}
        for _ in range(args.repeats):  # alternated, so load changes hit all alike
            outputs["before"] = _best(lambda: frozen_generate(reqs, "control", settings), seconds, "before")
            outputs["after_1"] = _best(lambda: columnar(items, settings), seconds, "after_1")
            outputs["after_chunks"] = _best(lambda: chunked(table, settings, args.threads), seconds, "after_chunks")
            for name, db in dbs.items():
                for f in (db, db.with_suffix(".duckdb.wal")):
                    f.unlink(missing_ok=True)
                run: Callable[[], Any] = partial(whole_before, path, db, spec_settings) if name == "whole_before" \
                    else partial(whole_after, path, db, spec)  # the runner's default threads
                outputs[name] = _best(run, seconds, name)
        same_store = not dbs or stored(dbs["whole_before"]) == stored(dbs["whole_after"])
    after = reasons_from_table(outputs["after_1"])
    identical = (after == outputs["before"] == reasons_from_table(outputs["after_chunks"])
                 and (not whole or (len(outputs["whole_before"]) == outputs["whole_after"] == n))
                 and same_store)
    load = os.getloadavg()[0]
    print(f"\n{n:,} reasons, best of {args.repeats} (by wall), load {load:.1f} on {os.cpu_count()} cores")
    print(f"{'path':<66}{'wall s':>8}{'CPU s':>8}{'CPU/wall':>9}{'reasons/s':>11}{'per CPU s':>11}")
    labels = {"before": "(b) before: per-row ids/write/Reason, from parsed requests",
              "after_1": "(c) after: columnar, one batch, one thread (parse included)",
              "after_chunks": f"(d) after: runner's 50k chunks on {args.threads} threads",
              "whole_before": "(a) before, whole path: Parquet -> per-row -> warehouse",
              "whole_after": "(e) after, whole path: abkit generate (Parquet -> warehouse)"}
    for name in labels:
        if name in seconds:
            w, c = seconds[name]
            print(f"{labels[name]:<66}{w:8.3f}{c:8.3f}{c / w:9.2f}{n / w:11,.0f}{n / c:11,.0f}")
    rate = {name: round(n / w) for name, (w, _) in seconds.items()}
    cpu_rate = {name: round(n / c) for name, (_, c) in seconds.items()}
    ratio = seconds["before"][0] / seconds["after_chunks"][0]
    line = f"generator (d) is {ratio:.2f}x (b) by wall, {seconds['before'][1] / seconds['after_chunks'][1]:.2f}x by CPU"
    if whole:
        line += f"; whole path (e) is {seconds['whole_before'][0] / seconds['whole_after'][0]:.2f}x (a)"
    print(f"{line}; outputs identical: {identical}")
    summary = {"benchmark": "template", "reasons": n, "load": round(load, 1), "cores": os.cpu_count(),
               "threads": args.threads, "identical": identical, "reasons_per_s": rate, "reasons_per_cpu_s": cpu_rate,
               "ratio": round(ratio, 2), "cpu_per_wall": {k: round(c / w, 2) for k, (w, c) in seconds.items()},
               "inject_unfaithful_rate": args.inject}
    if whole:
        summary["ratio_whole_path"] = round(seconds["whole_before"][0] / seconds["whole_after"][0], 2)
    print(json.dumps(summary))
    if not identical:
        raise SystemExit("outputs differ")
    return summary


if __name__ == "__main__":
    main()
