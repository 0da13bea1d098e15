"""Columnar building blocks for generation: parsed item facts, JSON text and sha256 over whole columns.

Everything here works on Arrow arrays (pyarrow compute, DuckDB for sha256) and reproduces byte for
byte what the per-row Python code writes — `json.dumps(..., ensure_ascii=False, separators=(",", ":"))`
for strings and floats, `json.loads` plus `{str(k): str(v)}` for attributes — so ids and texts do not
depend on which path built them. Inputs the fast path cannot reproduce exactly (attribute values that
are not strings, duplicate keys, text that is not one JSON object per line) take the per-row path for
that chunk; the answer is the same, only slower.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# json.dumps(ensure_ascii=False) escapes exactly these: '"', '\\', and the C0 controls.
_SHORT = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string_bytes(values: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of a string array's values (only the range its offsets cover)."""
    if len(values) == 0 or values.buffers()[2] is None:
        return np.zeros(0, dtype=np.uint8)
    width = 8 if pa.types.is_large_string(values.type) else 4
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64 if width == 8 else np.int32, count=len(values) + 1,
                            offset=width * values.offset)
    return np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]


def json_escape(values: pa.Array) -> pa.Array:
    """The body of json.dumps(v, ensure_ascii=False) of each string, without its quotes (nulls stay null).

    One byte scan decides: values with no '"', '\\' or control character are returned as they are.
    """
    values = values.cast(pa.string())
    body = _string_bytes(values)
    if not ((body == 0x22) | (body == 0x5C) | (body < 0x20)).any():
        return values
    values = pc.replace_substring(values, "\\", "\\\\")
    values = pc.replace_substring(values, '"', '\\"')
    present = np.unique(body[body < 0x20])
    for code in present.tolist():
        ch = chr(code)
        values = pc.replace_substring(values, ch, _SHORT.get(ch, f"\\u{code:04x}"))
    return values


def json_quote(values: pa.Array) -> pa.Array:
    """json.dumps(v, ensure_ascii=False) of each string (nulls stay null), without a Python loop over rows."""
    return pc.binary_join_element_wise('"', json_escape(values), '"', "")


def float_json(values: list[Any] | pa.Array) -> pa.Array:
    """json.dumps of each number (floats: repr; NaN/Infinity as json writes them; ints as ints), computed
    once per distinct value (a catalog has few distinct prices and discounts)."""
    if isinstance(values, pa.Array) and pa.types.is_floating(values.type) and values.null_count == 0:
        uniq, inverse = np.unique(values.to_numpy(zero_copy_only=False), return_inverse=True)
        return pa.array([_float_json(v) for v in uniq.tolist()], pa.string()).take(pa.array(inverse.ravel()))
    return pa.array([_float_json(v) if type(v) is float else _ENCODE(v) for v in values], pa.string())


def _float_json(v: float) -> str:
    if math.isfinite(v):
        return repr(v)
    return "NaN" if v != v else "Infinity" if v > 0 else "-Infinity"


_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode
_DUCK = threading.local()


def sha256_hex(blobs: pa.Array, n: int) -> pa.Array:
    """The first n hex digits of sha256(utf-8 of each string), computed by DuckDB over the whole column."""
    return duck_column(pa.table({"b": blobs}), f"SELECT left(sha256(b), {int(n)}) AS h FROM _abkit_blobs")  # n: int


def sha256_int(blobs: pa.Array, digits: int) -> np.ndarray:
    """int(sha256 hex of each string[:digits], 16) as uint64 (digits <= 16), parsed from the hex bytes."""
    hexes = sha256_hex(blobs, digits)
    chars = _string_bytes(hexes).reshape(-1, digits)
    nibbles = np.where(chars >= ord("a"), chars - ord("a") + 10, chars - ord("0")).astype(np.uint64)
    value = np.zeros(len(hexes), dtype=np.uint64)
    for k in range(digits):
        value = (value << np.uint64(4)) | nibbles[:, k]
    return value


def sha256_hex_wrapped(inner: list[pa.Array | str], n_inner: int, before: list[pa.Array | str],
                       after: list[pa.Array | str], n: int, prefix: str = "") -> pa.Array:
    """prefix + sha256_hex(join(*before, sha256_hex(join(*inner), n_inner), *after), n) in one DuckDB statement
    (both hashes in one pass; the inner text is concatenated by DuckDB and never leaves it). Constant parts are
    bound as parameters; a null part makes a null id."""
    columns: dict[str, pa.Array] = {}
    params: list[str] = [prefix]

    def term(part: pa.Array | str) -> str:
        if isinstance(part, str):
            params.append(part)
            return "?"
        name = f"c{len(columns)}"
        columns[name] = part
        return name

    def concat(terms: list[str]) -> str:  # concat() builds each string once but reads NULL as ''
        return f"concat({', '.join(terms)})" if nulls == 0 else "(" + " || ".join(terms) + ")"

    nulls = sum(p.null_count for p in (*inner, *before, *after) if not isinstance(p, str))
    head = [term(p) for p in before]  # terms in the order their parameters appear in the statement
    inner_hash = f"left(sha256({concat([term(p) for p in inner])}), {int(n_inner)})"
    outer = concat([*head, inner_hash, *(term(p) for p in after)])
    return duck_column(pa.table(columns), f"SELECT ? || left(sha256({outer}), {int(n)}) AS h FROM _abkit_blobs",
                       params)


def duck_column(table: pa.Table, sql: str, params: list[Any] | None = None) -> pa.Array:
    """The one column of `sql` over `table` (registered as _abkit_blobs), on this thread's DuckDB connection
    (one DuckDB worker: the runner already makes chunks side by side, one per core)."""
    con = getattr(_DUCK, "con", None)
    if con is None:
        con = _DUCK.con = duckdb.connect(config={"threads": 1})
    con.register("_abkit_blobs", table)
    try:
        out = con.sql(sql, params=params or None).to_arrow_table()
    finally:
        con.unregister("_abkit_blobs")
    return out.column(0).combine_chunks()


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of arrays and constant strings (null where any part is null)."""
    return pc.binary_join_element_wise(*parts, "")


def lengths(values: pa.Array) -> np.ndarray:
    """Characters (code points) of each string as int64; 0 for null."""
    return pc.fill_null(pc.utf8_length(values), 0).to_numpy(zero_copy_only=False).astype(np.int64)


@dataclass
class AttributePairs:
    """The items' attributes in long form: pair p is item `item[p]`, attribute `names[name[p]]`, `value[p]`;
    items in order, each item's pairs sorted by name (code point order, as Python sorts strings)."""

    names: list[str]
    item: np.ndarray
    name: np.ndarray
    value: pa.Array
    offsets: np.ndarray  # item i's pairs are [offsets[i], offsets[i + 1])
    spans: pa.Array | None = None  # per pair: its JSON body, cut from compact source text (see json_body)

    @classmethod
    def build(cls, n_items: int, item: np.ndarray, keys: pa.Array, values: pa.Array,
              spans: pa.Array | None = None) -> AttributePairs:
        coded = pc.dictionary_encode(keys)
        found = coded.dictionary.to_pylist()
        names = sorted(found)
        rank = np.array([names.index(k) for k in found], dtype=np.int64) if len(found) < 64 else \
            np.argsort(np.argsort(np.array(found, dtype=object), kind="stable"), kind="stable")
        code = rank[coded.indices.to_numpy(zero_copy_only=False)] if len(item) else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(n_items + 1, dtype=np.int64)
        np.cumsum(np.bincount(item, minlength=n_items), out=offsets[1:])
        key = item * max(len(names), 1) + code
        if (np.diff(key) > 0).all():  # already item-major with names sorted (and no name twice)
            return cls(names, item, code, values, offsets, spans)
        order = np.argsort(key, kind="stable")  # item-major, names sorted
        take = pa.array(order)
        return cls(names, item[order], code[order], values.take(take), offsets,
                   None if spans is None else spans.take(take))

    def duplicated_items(self) -> np.ndarray:
        """Items that name one attribute twice."""
        same = (np.diff(self.item) == 0) & (np.diff(self.name) == 0)
        return np.unique(self.item[1:][same])

    def column(self, name: str) -> pa.Array:
        """One attribute's value per item (null where the item lacks it)."""
        n = len(self.offsets) - 1
        if name not in self.names:
            return pa.nulls(n, pa.string())
        hit = np.flatnonzero(self.name == self.names.index(name))
        index = np.full(n, -1, dtype=np.int64)
        index[self.item[hit]] = hit
        return self.value.take(pa.array(index, mask=index < 0))

    @cached_property
    def json_body(self) -> pa.Array:
        """Per pair: json.dumps([name, value]) (compact, ensure_ascii=False) without its brackets.

        Pairs parsed from compact text without escapes are cut from that text (`spans`); others are built.
        """
        if self.spans is not None:
            return self.spans
        heads = pa.array([json.dumps(n, ensure_ascii=False) + ',"' for n in self.names], pa.string())
        return pc.binary_join_element_wise(heads.take(pa.array(self.name)), json_escape(self.value), '"', "")

    def item_json(self) -> pa.Array:
        """Per item: the JSON of sorted(attributes.items()) without its brackets — its pairs joined."""
        return bracket_join(self.json_body, self.offsets, "[", "]")


def bracket_join(bodies: pa.Array, offsets: np.ndarray, left: str, right: str) -> pa.Array:
    """Row i: ",".join(left + b + right for b in bodies[offsets[i]:offsets[i + 1]]) — one list join, with the
    brackets put around the row's whole join instead of around each body ("" for a row without bodies)."""
    rows = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), bodies)
    joined = join(left, pc.binary_join(rows, right + "," + left), right)
    return pc.if_else(pa.array(np.diff(offsets) > 0), joined, "")


@dataclass
class ItemColumns:
    """Parsed catalog items: the plain fields, the attributes in long form, the raw attributes."""

    table: pa.Table  # item_id, category, brand, title (strings), price, discount (float64)
    pairs: AttributePairs
    raw: list[Any] | pa.Array  # per item: its attributes as given (dict or JSON text), for the exact per-row path
    bad: np.ndarray  # attributes that are not a JSON object (such items are skipped and counted)
    number_json: tuple[pa.Array, pa.Array] | None = None  # JSON of price, discount as given (default: of the floats)

    def __len__(self) -> int:
        return self.table.num_rows

    def attribute_dict(self, i: int) -> dict[str, str]:
        """Item i's attributes exactly as the per-row path sees them (key order of the source)."""
        value = self.raw[i]
        return normalize_attributes(value.as_py() if isinstance(value, pa.Scalar) else value) or {}


def normalize_attributes(value: Any) -> dict[str, str] | None:
    """One item's attributes as {name: value} strings (nulls dropped); None when not a JSON object."""
    try:
        d = value if isinstance(value, dict) else json.loads(value) if isinstance(value, str) and value else {}
    except ValueError:
        d = None
    return {str(k): str(x) for k, x in d.items() if x is not None} if isinstance(d, dict) else None


def _gap_char(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The one non-space byte of each buf[start:end] (1 to 4 bytes), or -1 when there is not exactly one."""
    width = end - start
    out = np.full(len(start), -1, dtype=np.int64)
    one = np.flatnonzero(width == 1)  # compact JSON: the common case
    b = buf[start[one]].astype(np.int64)
    out[one] = np.where(b != 0x20, b, -1)
    more = np.flatnonzero((width >= 2) & (width <= 4))
    if len(more):
        count = np.zeros(len(more), dtype=np.int64)
        total = np.zeros(len(more), dtype=np.int64)
        for d in range(4):
            b = buf[np.minimum(start[more] + d, len(buf) - 1)].astype(np.int64)
            other = (d < width[more]) & (b != 0x20)
            count += other
            total += np.where(other, b, 0)
        out[more] = np.where(count == 1, total, -1)
    return out


@dataclass
class _Scan:
    """What _scan_simple cut from a column of attribute texts."""

    slow: np.ndarray  # rows left for json.loads
    item: np.ndarray  # per pair: its row
    keys: pa.Array
    values: pa.Array
    spans: pa.Array | None  # per pair: '"key","value"' (AttributePairs.spans); None unless every row is compact


def _scan_simple(raw: pa.Array) -> _Scan:
    """Tokenize the JSON objects whose keys and values are all plain strings (no escapes, no other types).

    Without backslashes every '"' byte delimits a string, so a row with 4k quotes is k pairs (key open, key
    close, value open, value close) if the bytes between them are '{' before the first, ':' inside a pair, ','
    between pairs and '}' after the last (spaces allowed); the rows are checked and cut with numpy over the
    UTF-8 buffer, one step per pair; any other row is left to the exact per-row parse. '{}' has no pairs.
    Positions are int32 (a string array's offsets are).
    """
    n = len(raw)
    offsets = np.frombuffer(raw.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * raw.offset)
    data = raw.buffers()[2]
    buf = np.frombuffer(data, dtype=np.uint8)[: offsets[-1]] if data is not None else np.zeros(0, dtype=np.uint8)
    lo, width = int(offsets[0]), np.diff(offsets)
    body = buf[lo:]
    slow = width == 0  # '' is {} to json.loads: left to it
    if not len(body):
        nothing = pa.array([], pa.string())
        return _Scan(slow, np.zeros(0, dtype=np.int64), nothing, nothing, None)
    odd = body == 0x5C  # escapes and control bytes
    odd |= body < 0x20
    if odd.any():
        slow[np.searchsorted(offsets[1:], (np.flatnonzero(odd) + lo).astype(np.int32), side="right")] = True
    quotes = np.flatnonzero(body == 0x22).astype(np.int32)
    quotes += lo
    counts = np.diff(np.searchsorted(quotes, offsets))
    start = np.minimum(offsets[:-1], len(buf) - 2)
    empty = (width == 2) & (buf[start] == ord("{")) & (buf[start + 1] == ord("}"))
    slow |= (counts % 4 != 0) | ((counts == 0) & ~empty)
    q = _Quotes.of(quotes, counts, slow)
    compact = q.compact(buf, offsets)
    if not compact:  # spaces, or rows that are not objects of strings: check each gap, drop the rows that fail
        slow[q.wrong_gaps(buf, offsets)] = True
        q = _Quotes.of(quotes, counts, slow)
    keys, values = _spans(data, q.key_open + 1, q.key_close), _spans(data, q.value_open + 1, q.value_close)
    spans = None
    if compact and len(q.row):  # every row compact: '"key":"value"' with ',' for ':' is the JSON body
        comma = body.copy()  # the batch's bytes only (a slice of a column shares the whole column's buffer)
        comma[q.key_close + 1 - lo] = ord(",")
        spans = _spans(pa.py_buffer(comma), q.key_open - lo, q.value_close + 1 - lo)
    return _Scan(slow, q.row, keys, values, spans)


@dataclass
class _Quotes:
    """The quotes of the rows kept, as pairs: pair p is row `row[p]`, its four quote positions; the kept rows
    that have pairs are `rows`, row rows[r]'s pairs are first[r]..last[r]."""

    key_open: np.ndarray
    key_close: np.ndarray
    value_open: np.ndarray
    value_close: np.ndarray
    row: np.ndarray
    rows: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, quotes: np.ndarray, counts: np.ndarray, drop: np.ndarray) -> _Quotes:
        if drop.any():
            quotes = quotes[np.repeat(~drop, counts)]
        per_row = np.where(drop, 0, counts // 4)
        rows = np.flatnonzero(per_row)
        last = np.cumsum(per_row)[rows] - 1
        k_open, k_close, v_open, v_close = quotes.reshape(-1, 4).T.copy()  # four contiguous columns
        return cls(k_open, k_close, v_open, v_close, np.repeat(np.arange(len(counts)), per_row), rows,
                   last - per_row[rows] + 1, last)

    def compact(self, buf: np.ndarray, offsets: np.ndarray) -> bool:
        """Whether every gap is the one byte of compact JSON: '{' right before a row's first key, ':' inside a
        pair, ',' between pairs, '}' right after a row's last value (and nothing after it)."""
        k_open, v_close = self.key_open, self.value_close
        between = (k_open[1:] - v_close[:-1] == 2) & (buf[v_close[:-1] + 1] == ord(","))
        between[self.first[1:] - 1] = True  # a row's first pair follows the previous row's last
        start, stop, end = offsets[self.rows], offsets[self.rows + 1], v_close[self.last]
        return bool(((self.value_open - self.key_close == 2) & (buf[self.key_close + 1] == ord(":"))).all()
                    and between.all()
                    and ((k_open[self.first] - start == 1) & (buf[start] == ord("{"))).all()
                    and ((stop - end == 2) & (buf[np.minimum(end + 1, len(buf) - 1)] == ord("}"))).all())

    def wrong_gaps(self, buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """The rows with a gap that is not its one character (spaces allowed): '{', ':', ',' or '}'."""
        is_first = np.zeros(len(self.row), dtype=bool)
        is_first[self.first] = True
        before = np.empty(len(self.row), dtype=np.int64)
        before[1:] = self.value_close[:-1] + 1
        before[self.first] = offsets[self.rows]
        start = np.concatenate([before, self.key_close + 1, self.value_close[self.last] + 1])
        end = np.concatenate([self.key_open, self.value_open, offsets[self.rows + 1]]).astype(np.int64)
        want = np.concatenate([np.where(is_first, ord("{"), ord(",")), np.full(len(self.row), ord(":")),
                               np.full(len(self.last), ord("}"))])
        wrong = _gap_char(buf, start, end) != want
        return np.concatenate([self.row, self.row, self.rows])[wrong]


def _spans(data: pa.Buffer, start: np.ndarray, end: np.ndarray) -> pa.Array:
    """The strings data[start[i]:end[i]] (spans in buffer order, not overlapping), as one take."""
    if not len(start):
        return pa.array([], pa.string())
    big = int(end[-1]) >= 2**31
    bounds = np.empty(2 * len(start), dtype=np.int64 if big else np.int32)
    bounds[0::2], bounds[1::2] = start, end
    every = pa.Array.from_buffers(pa.large_string() if big else pa.string(), len(bounds) - 1,
                                  [None, pa.py_buffer(bounds), data])  # span, gap, span, gap, ...
    return every.take(pa.array(np.arange(0, len(bounds), 2))).cast(pa.string())


def parse_attributes(raw: list[Any] | pa.Array) -> tuple[AttributePairs, np.ndarray]:
    """(attributes in long form, bad mask) of the items' attributes (JSON texts or dicts), equal to
    normalize_attributes per item: plain string objects are cut as columns, the rest parsed per row."""
    n = len(raw)
    if isinstance(raw, pa.Array) and pa.types.is_string(raw.type) and raw.null_count == 0 and n:
        scan = _scan_simple(raw)
        slow, item, keys, values = scan.slow, scan.item, scan.keys, scan.values
        fast = AttributePairs.build(n, item, keys, values, scan.spans)
        dup = fast.duplicated_items()
        if not len(dup) and not slow.any():
            return fast, np.zeros(n, dtype=bool)
        if len(dup):  # json.loads keeps the last value of a repeated key: leave those rows to it
            slow[dup] = True
            keep = pa.array(~slow[item])
            item, keys, values = item[~slow[item]], keys.filter(keep), values.filter(keep)
        rows = np.flatnonzero(slow)
        texts = raw.take(pa.array(rows)).to_pylist() if len(rows) else []
    else:
        rows, texts = np.arange(n), list(raw.to_pylist() if isinstance(raw, pa.Array) else raw)
        item, keys, values = np.zeros(0, dtype=np.int64), pa.array([], pa.string()), pa.array([], pa.string())
    bad = np.zeros(n, dtype=bool)
    more_item: list[int] = []
    more_keys: list[str] = []
    more_values: list[str] = []
    for i, text in zip(rows.tolist(), texts, strict=True):
        d = normalize_attributes(text)
        if d is None:
            bad[i] = True
            continue
        more_item.extend([i] * len(d))
        more_keys.extend(d)
        more_values.extend(d.values())
    if more_item:
        item = np.concatenate([item, np.array(more_item, dtype=np.int64)])
        keys = pa.concat_arrays([keys, pa.array(more_keys, pa.string())])
        values = pa.concat_arrays([values, pa.array(more_values, pa.string())])
    return AttributePairs.build(n, item, keys, values), bad


def item_columns(items: Any) -> ItemColumns:
    """ItemColumns of a normalized items frame (generators.runner._normalize: the ITEM_COLUMNS)."""
    def strings(name: str) -> pa.Array:
        col = pa.array(items[name], from_pandas=True)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        return col.cast(pa.string()) if pa.types.is_large_string(col.type) else col

    table = pa.table({
        "item_id": strings("item_id"), "category": strings("category"), "brand": strings("brand"),
        "title": strings("title"),
        "price": pa.array(items["price"].to_numpy(dtype=np.float64)),
        "discount": pa.array(items["discount"].to_numpy(dtype=np.float64)),
    })
    raw: list[Any] | pa.Array
    try:  # JSON texts (the warehouse, files); dicts or mixed values take the per-row parse
        raw = strings("attributes")
        if not (pa.types.is_string(raw.type) and raw.null_count == 0):
            raw = items["attributes"].tolist()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raw = items["attributes"].tolist()
    pairs, bad = parse_attributes(raw)
    return ItemColumns(table, pairs, raw, bad)
