"""The columnar template path against the per-row reference (reason_key, write, json.loads), on inputs
built to break it: escapes and control characters, spaced and repeated keys, values that are not strings,
unknown categories, odd discounts, segments, every length, injected claims; and the stored rows."""

from __future__ import annotations

import hashlib
import json
import math
import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from abkit.spec import parse_spec
from abkit.warehouse import connect
from abkit.world import vocab
from abkit.world.catalog import make_catalog
from generators.base import (
    Reason,
    ReasonRequest,
    RequestColumns,
    reason_ids,
    reason_key,
    request_seed,
    stable_hash,
)
from generators.columns import (
    item_columns,
    json_quote,
    normalize_attributes,
    parse_attributes,
    sha256_hex_wrapped,
)
from generators.runner import _normalize, key_settings, run_generate, shard_index, shard_indices
from generators.store import _extra
from generators.template import TemplateGenerator, reasons_from_table

ODD = ['含"引号"', "反\\斜杠", "换\n行", "制\t表", "\x01控制", "{v}", "", " 空 格 ", "é/\x7f", "纯棉"]


def _weird_items(n: int, seed: int) -> pd.DataFrame:
    """Catalog rows, a third of them rewritten with awkward attributes, titles and categories."""
    base = make_catalog(n, seed=seed)
    rng = random.Random(seed)
    attrs = []
    for a in base["attributes"]:
        d = json.loads(a)
        roll = rng.random()
        if roll < 0.1:
            d[rng.choice(list(d))] = rng.choice(ODD)
            attrs.append(json.dumps(d, ensure_ascii=rng.random() < 0.5))
        elif roll < 0.15:
            attrs.append(json.dumps(d, ensure_ascii=False, indent=rng.choice([None, 1])))  # spaced / multi-line
        elif roll < 0.18:
            k = rng.choice(list(d))
            attrs.append(json.dumps(d, ensure_ascii=False)[:-1] + f',"{k}":"重复值"}}')  # a repeated key
        elif roll < 0.21:
            d["评分"] = rng.choice([4.5, 5, True, None, ["x"]])  # not a string: str() of it, or dropped
            attrs.append(json.dumps(d, ensure_ascii=False))
        elif roll < 0.23:
            attrs.append(rng.choice(["", "{}", "[1, 2]", "not json", '{"a": "b"', "null", " { } "]))
        elif roll < 0.26:
            attrs.append(json.dumps(dict(reversed(list(d.items()))), ensure_ascii=False, separators=(", ", ": ")))
        else:
            attrs.append(a)
    out = base.copy()
    out["attributes"] = attrs
    weird = out.sample(frac=0.08, random_state=seed).index
    out.loc[weird[: len(weird) // 2], "category"] = "未知类目"  # no order in the vocabulary: written per row
    out.loc[weird[len(weird) // 2:], "title"] = out.loc[weird[len(weird) // 2:], "title"] + ' "T恤" \\ [x]'
    disc = out.sample(frac=0.1, random_state=seed + 1).index
    out.loc[disc, "discount"] = [rng.choice([-0.1, 0.15, 0.05, float("nan"), 1e-7, 0.3333333333]) for _ in disc]
    return out


def _per_row(items: pd.DataFrame, segments: list[str | None], length: str) -> list[ReasonRequest]:
    reqs = []
    for i, c, b, t, p, d, a in zip(items.item_id, items.category, items.brand, items.title, items.price,
                                   items.discount, items.attributes, strict=True):
        attrs = normalize_attributes(a)
        if attrs is not None:
            reqs += [ReasonRequest(i, c, b, t, float(p), float(d), attrs, s, length) for s in segments]
    return reqs


def test_attributes_parse_like_json_loads() -> None:
    items = _weird_items(3000, seed=5)
    raw = pa.array(items["attributes"].tolist(), pa.string())
    pairs, bad = parse_attributes(raw)
    expected = [normalize_attributes(a) for a in items["attributes"]]
    assert bad.tolist() == [e is None for e in expected]
    got: list[dict[str, str]] = [{} for _ in expected]
    for i, name, value in zip(pairs.item.tolist(), pairs.name.tolist(), pairs.value.to_pylist(), strict=True):
        got[i][pairs.names[name]] = value
    assert [sorted(g.items()) for g in got] == [sorted((e or {}).items()) for e in expected]


def _compact_items(n: int, seed: int, spaced: float = 0.0) -> pd.DataFrame:
    """Catalog rows whose attributes are all JSON objects of plain strings (never parsed per row), compact
    (the batch is cut as spans) but for a share `spaced` of them, with JSON punctuation inside the values,
    keys in any order, and empty objects."""
    base = make_catalog(n, seed=seed)
    rng = random.Random(seed)
    punct = ["10:00", "a,b", "{v}", "[x]", "}{", ":", ",", "满199减30", "", " "]
    attrs = []
    for a in base["attributes"]:
        d = json.loads(a)
        if rng.random() < 0.3:
            d[rng.choice(list(d))] = rng.choice(punct)
        items = list(d.items())
        rng.shuffle(items)
        seps = (", ", ": ") if rng.random() < spaced else (",", ":")
        attrs.append("{}" if rng.random() < 0.05 else json.dumps(dict(items), ensure_ascii=False, separators=seps))
    return base.assign(attributes=attrs)


@pytest.mark.parametrize(("length", "spaced"), [("S", 0.0), ("L", 0.0), ("M", 0.01)])
def test_compact_attributes_cut_as_spans_equal_the_per_row_reference(length: str, spaced: float) -> None:
    """The fast path that cuts each pair's JSON from the source text (':' read as ',') gives the ids, texts and
    mentions of the per-row path, whatever punctuation the values hold; one spaced row turns it off."""
    items = _compact_items(1200, seed=7, spaced=spaced)
    cols = RequestColumns.cross(item_columns(items), [None], length)
    assert (cols.items.pairs.spans is not None) == (spaced == 0)  # the path under test was taken
    assert not cols.items.bad.any()
    settings = {"experiment": "e"}
    table = TemplateGenerator().generate_columns(cols, arm="a", settings=settings)
    reqs = _per_row(items, [None], length)
    assert table.column("reason_id").to_pylist() == [
        reason_key(r, arm="a", model_version="template-v1", settings=settings) for r in reqs]
    rows = [TemplateGenerator.write(r) for r in reqs]
    assert table.column("text").to_pylist() == [t for t, _, _ in rows]
    assert [json.loads(m) for m in table.column("mentions").to_pylist()] == [m for _, m, _ in rows]


@pytest.mark.parametrize("length", ["S", "M", "L", "X"])
@pytest.mark.parametrize("segments", [[None], ["宝妈", 'x"y', None]])
def test_columns_equal_the_per_row_reference(length: str, segments: list[str | None]) -> None:
    items = _weird_items(1500, seed=len(length) + len(segments))
    settings = {"type": "template", "length": length, "experiment": "e", "inject_unfaithful_rate": 0.3}
    cols = RequestColumns.cross(item_columns(items), segments, length)
    table = TemplateGenerator().generate_columns(cols, arm="a", settings=settings)
    reqs = _per_row(items, segments, length)
    assert table.num_rows == len(reqs) > 0
    ids = [reason_key(r, arm="a", model_version="template-v1", settings=settings) for r in reqs]
    assert table.column("reason_id").to_pylist() == ids
    rows = [TemplateGenerator.write(r, fake_promo_seed=request_seed(i) if request_seed(i) / 2**32 < 0.3 else None)
            for r, i in zip(reqs, ids, strict=True)]
    assert table.column("text").to_pylist() == [t for t, _, _ in rows]
    assert [json.loads(m) for m in table.column("mentions").to_pylist()] == [m for _, m, _ in rows]
    assert table.column("mentions_promo").to_pylist() == [p for _, _, p in rows]
    assert table.column("length").to_pylist() == [vocab.length_bucket(len(t)) for t, _, _ in rows]
    assert table.column("segment").to_pylist() == [r.segment for r in reqs]
    corrupted = table.column("corrupted").to_pylist()
    assert 0 < corrupted.count("fake_discount") < len(reqs) and set(corrupted) == {None, "fake_discount"}


def test_protocol_generate_equals_columns_on_requests_with_odd_types() -> None:
    """generate(requests): int prices, None discount, a non-string attribute value (ids fall back per row)."""
    reqs = [ReasonRequest("i1", "服饰", "b", "速干T恤", 100, 0.0, {"材质": "纯棉", "促销": "满99减10"}, None, "L"),
            ReasonRequest("i2", "服饰", "b", "t", 59.9, None, {"风格": "简约"}, "宝妈", "M"),  # type: ignore[arg-type]
            ReasonRequest("i3", "未知", "b", "t", 1e16, 0.2, {"材质": "麻", "x": "1"}, None, "S")]
    out = TemplateGenerator().generate(reqs, arm="c", settings={"k": 1})
    assert [r.reason_id for r in out] == [reason_key(r, arm="c", model_version="template-v1", settings={"k": 1})
                                          for r in reqs]
    assert [r.text for r in out] == [TemplateGenerator.write(r)[0] for r in reqs]


@pytest.mark.parametrize("attributes", ["{}", "", '{"x": "1"}'])
def test_items_without_template_attributes(attributes: str) -> None:
    """No attribute pair the template uses (or none at all): subject, promotion, price and call to action only."""
    items = make_catalog(30, seed=3).assign(attributes=attributes)
    for length in "SML":
        table = TemplateGenerator().generate_columns(RequestColumns.cross(item_columns(items), [None], length),
                                                     arm="a", settings={})
        assert table.column("text").to_pylist() == [TemplateGenerator.write(r)[0]
                                                    for r in _per_row(items, [None], length)]


def test_json_quote_matches_json_dumps() -> None:
    values = ODD + ['"', "\\\\", "\x1f\x00\b\f\r", None, "中文", "a" * 50]
    assert json_quote(pa.array(values, pa.string())).to_pylist() == [
        None if v is None else json.dumps(v, ensure_ascii=False) for v in values]


def test_shard_indices_match_shard_index() -> None:
    rng = random.Random(1)
    ids = [f'i{rng.randrange(10**6)}"\\' if rng.random() < 0.1 else f"i{k}" for k in range(2000)]
    segs = [rng.choice([None, "宝妈", "学生党"]) for _ in ids]
    for n in (1, 2, 7, 2**40 + 3):
        got = shard_indices(pa.array(ids, pa.string()), pa.array(segs, pa.string()), n)
        assert got.tolist() == [shard_index(i, s, n) for i, s in zip(ids, segs, strict=True)]


def test_stored_rows_equal_the_per_row_reference(tmp_path) -> None:
    """run_generate (columnar, chunked) stores exactly what the per-row path built: ids, texts, extra map."""
    items = _weird_items(800, seed=9)
    spec = parse_spec({"key": "cols", "arms": [{"name": "control", "weight": 1, "generator": {"type": "template"}},
                                               {"name": "b", "weight": 1, "generator": {"type": "template",
                                                                                        "length": "L"}}],
                       "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "ctr"})
    con = connect(tmp_path / "w.duckdb")
    report = run_generate(spec, con, items=items, progress=False)
    assert report.bad_items == sum(normalize_attributes(a) is None for a in items["attributes"])
    stored = con.execute("SELECT reason_id, arm, item_id, segment, text, generator, model_version, "
                         "map_keys(extra) AS k, map_values(extra) AS v FROM reasons").df()
    con.close()
    expected = []
    for arm in spec.arms:
        ks = key_settings(arm.generator, spec.key)
        reqs = _per_row(_normalize(items), [None], arm.generator.length)  # what the runner feeds generators
        for r in reqs:
            rid = reason_key(r, arm=arm.name, model_version="template-v1", settings=ks)
            text, mentions, promo = TemplateGenerator.write(r)
            reason = Reason(rid, r.item_id, None, arm.name, text, "template", "template-v1", stable_hash(ks),
                            {"mentions": mentions, "mentions_promo": promo, "length": vocab.length_bucket(len(text)),
                             "corrupted": None, "ai_generated": False})
            keys, values = _extra(reason)
            expected.append((rid, arm.name, r.item_id, None, text, "template", "template-v1", keys, values))
    got = sorted((r.reason_id, r.arm, r.item_id, None if r.segment is None or r.segment != r.segment else r.segment,
                  r.text, r.generator, r.model_version, list(r.k), list(r.v)) for r in stored.itertuples())
    assert got == sorted(expected)


def test_reasons_from_table_round_trip() -> None:
    items = make_catalog(50, seed=2)
    table = TemplateGenerator().generate_columns(RequestColumns.cross(item_columns(items), [None], "M"),
                                                 arm="a", settings={})
    reasons = reasons_from_table(table)
    assert [r.text for r in reasons] == table.column("text").to_pylist()
    assert all(isinstance(r.features["mentions"], list) and not math.isnan(len(r.text)) for r in reasons)
    assert np.all(table.column("ai_generated").to_numpy(zero_copy_only=False) == False)  # noqa: E712


def test_sha256_hex_wrapped_equals_two_hashlib_passes() -> None:
    """Both hashes in one DuckDB statement = hashing twice in Python; constants are bound, not spliced into SQL
    (a quote, a '?' or SQL text in them would break a spliced statement), in the order they appear, and a null
    part makes a null id."""
    inner = pa.array(['["a","b"]', "中文\x01", "", None, "x" * 300], pa.string())
    item = pa.array(["i1", 'i"2', "i'3", "i4", "é"], pa.string())
    before = ["{'?' || ", "\"'; DROP TABLE reasons; --"]

    def sha(text: str, n: int) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]

    want = [None if i is None else "r_" + sha("".join(before) + sha("<" + i + "?>", 16) + '","item":"' + it + "?中", 20)
            for i, it in zip(inner.to_pylist(), item.to_pylist(), strict=True)]
    for rows in (pa.array([0, 1, 2, 3, 4]), pa.array([0, 1, 2, 4])):  # without nulls: concat() instead of ||
        got = sha256_hex_wrapped(["<", inner.take(rows), "?>"], 16, before, ['","item":"', item.take(rows), "?", "中"],
                                 20, prefix="r_").to_pylist()
        assert got == [want[i] for i in rows.to_pylist()]
    assert want[3] is None


@pytest.mark.parametrize("segments", [[None], ["宝妈", None]])
def test_reason_ids_of_any_subset_of_rows_equal_reason_key(segments: list[str | None]) -> None:
    """A shard or the not-yet-stored rows are a subset of a chunk's rows: the one-pass ids (each item at most once)
    and the two-pass ids (an item on several rows) both equal reason_key per row."""
    items = _weird_items(400, seed=5)
    cols = RequestColumns.cross(item_columns(items), segments, "M")
    rows = np.flatnonzero(np.random.default_rng(2).random(len(cols)) < 0.4)
    sub = cols.take(rows)
    settings = {"experiment": "e", "k": '"x"'}
    every = _per_row(items, segments, "M")
    reqs = [every[i] for i in rows]
    assert reason_ids(sub, arm="a", model_version="template-v1", settings=settings).to_pylist() == [
        reason_key(r, arm="a", model_version="template-v1", settings=settings) for r in reqs]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_runner_chunks_on_threads_equal_one_batch(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """Chunks made side by side come back in item order, each with its own counts, and the stored ids are
    skipped: the concatenated reasons equal one generate_columns over all the items minus the stored ones."""
    import generators.runner as runner

    monkeypatch.setattr(runner, "_COLUMN_CHUNK", 97)
    table = _normalize(_weird_items(700, seed=11))
    settings = {"experiment": "e"}
    gen = TemplateGenerator()
    whole = gen.generate_columns(RequestColumns.cross(item_columns(table), [None], "M"), arm="a", settings=settings)
    stored = whole.column("reason_id").combine_chunks().take(pa.array(np.arange(0, whole.num_rows, 5)))
    chunks = list(runner.columnar_chunks(gen, table, [None], "M", "a", settings, stored=stored, threads=threads))
    assert len(chunks) == math.ceil(len(table) / 97)
    got = pa.concat_tables([c.reasons for c in chunks if c.reasons is not None])
    keep = ~pa.compute.is_in(whole.column("reason_id"), value_set=stored).to_numpy(zero_copy_only=False)
    assert got.equals(whole.filter(pa.array(keep)))
    assert sum(c.existing for c in chunks) == len(stored) and sum(c.pairs for c in chunks) == whole.num_rows
    assert sum(c.bad_items for c in chunks) == sum(normalize_attributes(a) is None for a in table["attributes"])


def test_ordered_map_keeps_order_bounds_lookahead_and_raises() -> None:
    """Results in input order whatever finishes first; never more than `threads` calls ahead of the reader;
    an error in a call reaches the reader."""
    import threading
    import time

    from generators.runner import ordered_map

    started: list[int] = []
    lock = threading.Lock()

    def slow_first(k: int) -> int:
        with lock:
            started.append(k)
        time.sleep(0.02 if k % 3 == 0 else 0.0)
        return k * k

    seen = []
    for k, value in enumerate(ordered_map(slow_first, range(12), threads=2)):
        seen.append(value)
        with lock:
            assert len(started) <= k + 1 + 2  # the one just read, plus at most `threads` queued
    assert seen == [k * k for k in range(12)]

    def boom(k: int) -> int:
        if k == 4:
            raise ValueError("chunk 4")
        return k

    with pytest.raises(ValueError, match="chunk 4"):
        list(ordered_map(boom, range(8), threads=2))


@pytest.mark.parametrize("repeat", [False, True])
def test_store_keeps_one_row_per_reason_id(tmp_path, repeat: bool) -> None:
    """A batch that repeats a reason_id stores it once (the DISTINCT ON is only spared when ids are unique), and
    writing the batch again stores nothing; columnar and object writers agree."""
    from generators.store import write_reason_table, write_reasons

    table = TemplateGenerator().generate_columns(RequestColumns.cross(item_columns(make_catalog(40, seed=1)), [None],
                                                                      "M"), arm="a", settings={})
    if repeat:
        table = pa.concat_tables([table, table.slice(3, 5)])
    unique = len(set(table.column("reason_id").to_pylist()))
    con = connect(tmp_path / "w.duckdb")
    assert write_reason_table(con, table, "e") == unique
    assert write_reason_table(con, table, "e") == 0
    assert write_reasons(con, reasons_from_table(table), "f") == 0  # same ids: already stored
    con.execute("DELETE FROM reasons")
    assert write_reasons(con, reasons_from_table(table), "f") == unique
    assert con.execute("SELECT count(DISTINCT reason_id), count(*) FROM reasons").fetchone() == (unique, unique)
    con.close()
