"""Load log files (Parquet, CSV, JSON Lines) into the warehouse, validated, typed and idempotent.

    with open_warehouse("abkit.duckdb") as con:
        report = ingest_files(con, "events", ["day1.parquet", "late.csv"])
        print(report.total)        # read = accepted + quarantined + duplicates

DuckDB reads every file itself (no pandas round trip). Per file, one pass of DuckDB's reader types
and validates every row into a temporary stage (``experiments/ingest/sql.py``, ``stage_select``);
from it, rows that break the schema go to ``quarantine`` (table_name, file, line, raw, reason) and
the rest are appended to the table with an anti-join on the key (:func:`_append_new_rows`), so
re-ingesting is a no-op and no index is needed. Counts per file: read = accepted + quarantined +
duplicates, exactly. Policies:

* Ids are strings: CSV and JSON values are read as text ("00123" stays "00123"); Parquet ids
  are cast to VARCHAR. Timestamps: ISO 8601 text with or without an offset/``Z`` (no offset =
  UTC) or Parquet timestamps (naive = UTC); stored as naive UTC ``TIMESTAMP``.
* Keys: exposures/events by ``event_id``, reasons by ``reason_id``, items by ``item_id``, users
  by ``user_id``. **First write wins**: a row whose key is already stored (or appeared earlier
  in the same command) is a duplicate and is not stored, whatever its content. Tables are
  append-only; to correct a catalog row, delete it first.
* Columns beyond the schema are kept in ``extra`` (MAP(VARCHAR, VARCHAR); nested values as JSON).
* An order with a null revenue is stored with revenue 0 and counted as a warning.
* CSV: header line required; ``,`` (``\\t`` for .tsv), ``"`` quoting; lines DuckDB cannot
  parse are captured by its ``store_rejects`` machinery with the raw line. JSON Lines: one
  object per line; blank lines are skipped. ``.gz`` compression is read transparently.
* ``quarantine.line``: 1-based record number (Parquet: row number; CSV: the header is record
  1; exact unless the CSV has blank lines or quoted newlines before the row).
* Re-ingesting the same file (same path) adds nothing, to the table or to ``quarantine``; its
  bad rows are still counted as quarantined in the report.
* A file that cannot be read, has an unknown format, lacks a required column or has a column
  of an unusable type raises :class:`IngestError` (one line naming the file and the column);
  all files of one call share one transaction, so the database is then unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from abkit.errors import AbkitError
from abkit.schema import KEYED_TABLES, LOG_TABLES, PLAUSIBLE, LogTable, Plausible
from abkit.warehouse import add_user_keys, check_identifier, ensure_schema, one_row, transaction
from experiments.ingest.sql import TypeProblem, as_text, is_nested, stage_select

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_JSONL_DELIM = "\x1e"  # a control character: never valid unescaped in JSON, so never splits a good line
# Re-ingesting a file must change nothing, so a bad row already in quarantine is not added again.
_NOT_YET_QUARANTINED = """NOT EXISTS (
    SELECT 1 FROM quarantine q WHERE q.table_name = n.table_name AND q.file = n.file
      AND q.line IS NOT DISTINCT FROM n.line AND q.raw IS NOT DISTINCT FROM n.raw AND q.reason = n.reason)"""
# Hash of a key for finding in-file duplicate candidates (exactness never depends on it).
_KEY_HASH = "hash({key})"
_TEMP = ("_abkit_rows", "_abkit_dups", "_abkit_raw", "_abkit_thr", "_abkit_rej", "_abkit_rejscan")


class IngestError(AbkitError):
    """A file-level ingestion problem (unreadable file, missing column); nothing was stored."""


@dataclass
class FileReport:
    file: str
    format: str
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    warnings: int = 0
    warning_counts: dict[str, int] = field(default_factory=dict)

    def add(self, other: FileReport) -> None:
        self.read += other.read
        self.accepted += other.accepted
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        self.warnings += other.warnings
        for k, v in other.warning_counts.items():
            self.warning_counts[k] = self.warning_counts.get(k, 0) + v


@dataclass
class IngestReport:
    table: str
    files: list[FileReport]

    @property
    def total(self) -> FileReport:
        out = FileReport("TOTAL", "")
        for f in self.files:
            out.add(f)
        return out

    def to_dict(self) -> dict:
        return {"table": self.table, "files": [asdict(f) for f in self.files], "total": asdict(self.total)}


def ingest_files(
    con: duckdb.DuckDBPyConnection, table: str, files: Iterable[str | Path], *, atomic: bool = True,
    plausible: Plausible = PLAUSIBLE, timings: dict[str, float] | None = None,
    cpu_timings: dict[str, float] | None = None,
) -> IngestReport:
    """Ingest ``files`` into ``table`` (exposures, events, reasons, items or users).

    ``atomic``: run all files in one transaction (set False when the caller holds one).
    ``plausible``: timestamps and revenue outside these ranges are quarantined.
    ``timings``: if given, wall seconds per step are added to it (read and validate, quarantine,
    find duplicates, insert, commit), summed over the files; ``cpu_timings`` likewise gets the
    process's CPU seconds (all threads), which a busy machine distorts less than wall time.
    Raises IngestError for a file-level problem; the transaction is then rolled back.
    """
    if table not in LOG_TABLES:
        raise IngestError(f"unknown table {table!r} (one of {', '.join(LOG_TABLES)})")
    paths = [Path(f) for f in files]
    if not paths:
        raise IngestError("no files to ingest")
    for p in paths:  # cheap checks before touching the database
        _format(p)
        if not p.is_file():
            raise IngestError(f"{p}: no such file")
    ensure_schema(con)
    saved = one_row(con.execute(
        "SELECT current_setting('TimeZone'), current_setting('preserve_insertion_order')"
    ))
    con.execute("SET TimeZone = 'UTC'")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clock = _Clock(timings, cpu_timings)
    try:
        if atomic:
            with transaction(con):
                reports = [_ingest_one(con, LOG_TABLES[table], p, now, plausible, clock) for p in paths]
                clock.start("commit")
            clock.stop()
        else:
            reports = [_ingest_one(con, LOG_TABLES[table], p, now, plausible, clock) for p in paths]
    finally:
        con.execute("SET TimeZone = ?", [saved[0]])
        con.execute(f"SET preserve_insertion_order = {'true' if saved[1] else 'false'}")
    return IngestReport(table, reports)


class _Clock:
    """Wall seconds per step into ``timings``, CPU seconds into ``cpu`` (each skipped when None)."""

    def __init__(self, timings: dict[str, float] | None, cpu: dict[str, float] | None = None) -> None:
        self.timings = timings
        self.cpu = cpu
        self._step: tuple[str, float, float] | None = None

    def start(self, step: str) -> None:
        self.stop()
        if self.timings is not None or self.cpu is not None:
            self._step = (step, time.perf_counter(), time.process_time())

    def stop(self) -> None:
        if self._step is not None:
            step, t0, c0 = self._step
            for out, now in ((self.timings, time.perf_counter() - t0), (self.cpu, time.process_time() - c0)):
                if out is not None:
                    out[step] = out.get(step, 0.0) + now
        self._step = None

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.start(name)
        try:
            yield
        finally:
            self.stop()


# --- one file ---------------------------------------------------------------------------------
@dataclass
class _Source:
    sql: str  # relation with __ord, __raw, __bad, __extra, c0..cN
    params: dict[str, object]
    columns: dict[str, tuple[str, str]]  # field -> (c<i>, duck type)
    raw_sql: str
    header_records: int  # records before the first data record (CSV header = 1)
    rejects: bool  # a DuckDB rejects table holds unparseable lines
    ordered: bool = False  # __ord is NULL: the record ordinal is the stage's rowid (written in file order)


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise IngestError(f"{path}: unknown file format (use .parquet, .csv, .tsv or .jsonl, optionally .gz)")
    return fmt


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _ingest_one(con: duckdb.DuckDBPyConnection, schema: LogTable, path: Path, now: dt.datetime,
                plausible: Plausible = PLAUSIBLE, clock: _Clock | None = None) -> FileReport:
    fmt = _format(path)
    clock = clock or _Clock(None)
    _drop_temps(con)
    try:
        src = {"parquet": _parquet_source, "csv": _csv_source, "jsonl": _jsonl_source}[fmt](con, schema, path)
        missing = [c for c in schema.required if c not in src.columns]
        if missing:
            raise IngestError(f"{path}: missing required column {missing[0]!r}")
        try:
            validated = stage_select(schema, src.columns, src.raw_sql, src.sql, plausible)
        except TypeProblem as exc:
            raise IngestError(f"{path}: {exc}") from None
        with clock.step("read+validate"):
            # Where the reader has no row number (CSV), the stage is written in file order by an
            # order-keeping parallel insert and its rowid is the ordinal (a row_number() window
            # over the reader would run on one thread).
            con.execute(f"SET preserve_insertion_order = {'true' if src.ordered else 'false'}")
            con.execute(f"CREATE TEMP TABLE _abkit_rows AS {validated}", src.params)
            con.execute("SET preserve_insertion_order = false")
            ordinal = "*"
            if src.ordered:  # rowids count on from an offset inside a transaction
                first = con.execute("SELECT coalesce(min(rowid), 0) FROM _abkit_rows").fetchall()[0][0]
                ordinal = f"* REPLACE (rowid - {int(first)} AS ord)"
            con.execute(f"CREATE TEMP VIEW _abkit_stage AS SELECT {ordinal} FROM _abkit_rows")
        rep = _load(con, schema, src, str(path), fmt, now, clock)
    except IngestError:
        raise
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot ingest ({_first_line(exc)})") from None
    _drop_temps(con)
    return rep


def _drop_temps(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP VIEW IF EXISTS _abkit_stage")
    for name in _TEMP:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _load(
    con: duckdb.DuckDBPyConnection, schema: LogTable, src: _Source, file: str, fmt: str, now: dt.datetime,
    clock: _Clock,
) -> FileReport:
    """Count, quarantine and append one file's validated rows (in ``_abkit_stage``)."""
    clock.start("quarantine")
    parsed, bad, warned = one_row(con.execute(
        "SELECT count(*), count(reason), count(*) FILTER (WHERE warn) FROM _abkit_stage"))
    rejected = _quarantine_rejects(con, schema.name, file, now) if src.rejects else 0
    if bad:
        line = _line_expression(con, src.header_records)
        con.execute(
            f"""INSERT INTO quarantine
                SELECT * FROM (
                    SELECT $table AS table_name, $file AS file, {line} AS line, s.raw, s.reason, $now AS ingested_at
                    FROM _abkit_stage s {"ASOF LEFT JOIN _abkit_thr t ON s.ord >= t.t" if "t.cnt" in line else ""}
                    WHERE s.reason IS NOT NULL) n
                WHERE {_NOT_YET_QUARANTINED}""",
            {"table": schema.name, "file": file, "now": now},
        )
        # The stage keeps only the valid rows from here on: an append without a filter lets the
        # planner see their true count (a filter's guessed selectivity made it hash the whole
        # stage, every column, instead of the user keys: ~0.4 s more per million rows).
        con.execute("DELETE FROM _abkit_rows WHERE reason IS NOT NULL")
    clock.stop()
    accepted = _append_new_rows(con, schema, file, now, clock)
    rep = FileReport(
        file, fmt, read=parsed + rejected, accepted=accepted, quarantined=bad + rejected,
        duplicates=parsed - bad - accepted, warnings=warned,
    )
    if warned:
        rep.warning_counts = {schema.warnings[0][1]: warned} if len(schema.warnings) == 1 else {"warnings": warned}
    return rep


def _append_new_rows(
    con: duckdb.DuckDBPyConnection, schema: LogTable, file: str, now: dt.datetime, clock: _Clock | None = None,
) -> int:
    """Append the stage's valid rows whose key is new to ``schema``'s table; return how many.

    The one place rows enter a log table. First write wins: a key already stored, or seen
    earlier in the file (lower ``ord``), is a duplicate."""
    clock = clock or _Clock(None)
    table = check_identifier(schema.name)
    key = check_identifier(schema.key)
    clock.start("find duplicates")
    # In-file duplicates (rare): the later copies of a key. Candidates are the key hashes that
    # occur twice, found by sorting the 64-bit hashes and comparing neighbours (at 10M rows ~1/3
    # less CPU than grouping: a hash table of 10M groups); the copies are then picked by the key
    # itself among the few candidate rows, so two keys whose hashes collide are still told apart.
    h = _KEY_HASH.format(key=key)
    con.execute(
        f"""CREATE TEMP TABLE _abkit_dups AS
            WITH candidates AS (
                SELECT DISTINCT h FROM (
                    SELECT h, lag(h) OVER (ORDER BY h) AS prev FROM (
                        SELECT {h} AS h FROM _abkit_stage))
                WHERE h = prev)
            SELECT ord FROM (
                SELECT ord, row_number() OVER (PARTITION BY {key} ORDER BY ord) AS copy
                FROM _abkit_stage WHERE {h} IN (SELECT h FROM candidates))
            WHERE copy > 1""")
    has_dups = one_row(con.execute("SELECT count(*) FROM _abkit_dups"))[0] > 0
    has_rows = one_row(con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)"))[0] > 0
    later_copies = "ANTI JOIN _abkit_dups d ON d.ord = s.ord" if has_dups else ""
    stored = f"ANTI JOIN {table} t ON t.{key} = s.{key}" if has_rows else ""  # nothing to join on an empty table
    cols = ", ".join(schema.names)
    key_col, key_value, key_join = "", "", ""
    if table in KEYED_TABLES:  # integer user keys: new ids first, then the rows carry theirs
        clock.start("user keys")
        add_user_keys(con, "SELECT DISTINCT user_id FROM _abkit_stage")
        key_col, key_value, key_join = ", user_key", ", k.user_key", "LEFT JOIN user_keys k ON k.user_id = s.user_id"
    clock.start("insert")
    accepted = one_row(con.execute(
        f"""INSERT INTO {table} ({cols}, extra, source_file, ingested_at{key_col})
            SELECT {", ".join(f"s.{c}" for c in schema.names)}, s.extra, $file, $now{key_value}
            FROM _abkit_stage s {later_copies} {stored} {key_join}""",
        {"file": file, "now": now},
    ))[0]
    clock.stop()
    return int(accepted)


def _quarantine_rejects(con: duckdb.DuckDBPyConnection, table: str, file: str, now: dt.datetime) -> int:
    """Move DuckDB's rejected CSV/JSONL lines (one row per line) to quarantine."""
    n = one_row(con.execute("SELECT count(DISTINCT line) FROM _abkit_rej"))[0]
    con.execute(
        f"""INSERT INTO quarantine
            SELECT * FROM (
                SELECT $table AS table_name, $file AS file, line,
                       trim(arg_min(csv_line, coalesce(column_idx, 0)), chr(13) || chr(10)) AS raw,
                       'unparseable line (' || lower(min(error_type)) || ')' AS reason, $now AS ingested_at
                FROM _abkit_rej GROUP BY line) n
            WHERE {_NOT_YET_QUARANTINED}""",
        {"table": table, "file": file, "now": now},
    )
    return n


def _line_expression(con: duckdb.DuckDBPyConnection, header: int) -> str:
    """SQL for a stage row's record number, allowing for rejected records before it.

    The k-th parsed record (0-based) is record ``header + 1 + k + #{rejected records before it}``;
    rejected record r_j (1-based j, sorted) precedes it when ``r_j - header - j <= k``.
    """
    rejected = []
    if one_row(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_abkit_rej'"))[0]:
        rejected = [r[0] for r in con.execute("SELECT DISTINCT line FROM _abkit_rej ORDER BY line").fetchall()]
    base = f"{int(header) + 1} + s.ord"
    if not rejected:
        return base
    thresholds: dict[int, int] = {}
    for j, r in enumerate(rejected, start=1):
        thresholds[r - header - j] = j
    con.execute(
        "CREATE TEMP TABLE _abkit_thr AS SELECT unnest($t)::BIGINT AS t, unnest($c)::BIGINT AS cnt",
        {"t": list(thresholds), "c": list(thresholds.values())},
    )
    return f"{base} + coalesce(t.cnt, 0)"


# --- sources ----------------------------------------------------------------------------------
def _map_columns(
    path: Path, schema: LogTable, names: list[str], types: list[str]
) -> tuple[dict[str, tuple[str, str]], list[int]]:
    """Known fields -> (c<i>, type); indexes of extra columns. Duplicate names are an error."""
    seen: set[str] = set()
    columns: dict[str, tuple[str, str]] = {}
    extras: list[int] = []
    for i, (name, typ) in enumerate(zip(names, types, strict=True)):
        if name in seen:
            raise IngestError(f"{path}: duplicate column {name!r}")
        seen.add(name)
        if name in schema.names:
            columns[name] = (f"c{i}", typ)
        else:
            extras.append(i)
    return columns, extras


def _extra_and_raw(names: list[str], types: list[str], extras: list[int], first: int) -> tuple[str, str, dict[str, object]]:
    """SQL for the ``extra`` map (over the file's own columns; ``#first`` is column 0) and for the
    raw row as JSON (over ``c<i>``), with their bound parameters."""
    params: dict[str, object] = {f"k{i}": n for i, n in enumerate(names)}
    raw = "json_object(" + ", ".join(f"$k{i}, c{i}" for i in range(len(names))) + ")" if names else "NULL"
    if not extras:
        return "CAST(NULL AS MAP(VARCHAR, VARCHAR))", raw, params
    params["extra_keys"] = [names[i] for i in extras]
    if any(is_nested(types[i]) for i in extras):  # nested values as JSON text
        values = ", ".join(as_text(f"#{first + i}", types[i]) for i in extras)
        return f"MAP(CAST($extra_keys AS VARCHAR[]), [{values}])", raw, params
    # A struct of the extra columns (selected by bound name) cast to a map: ~10x faster than MAP().
    picked = "*COLUMNS(lambda col: list_contains(CAST($extra_keys AS VARCHAR[]), col))"
    return f"CAST(struct_pack({picked}) AS MAP(VARCHAR, VARCHAR))", raw, params


def _parquet_source(con: duckdb.DuckDBPyConnection, schema: LogTable, path: Path) -> _Source:
    try:
        desc = con.execute(
            "DESCRIBE SELECT * FROM read_parquet($path, file_row_number = true)", {"path": str(path)}
        ).fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot read as Parquet ({_first_line(exc)})") from None
    if any(row[0] == "file_row_number" for row in desc[:-1]):
        raise IngestError(f"{path}: column 'file_row_number' is reserved")
    names = [row[0] for row in desc[:-1]]  # the last column is file_row_number
    types = [row[1] for row in desc[:-1]]
    columns, extras = _map_columns(path, schema, names, types)
    extra, raw, params = _extra_and_raw(names, types, extras, first=1)
    select = "".join(f", #{i + 1} AS c{i}" for i in range(len(names)))
    sql = ("SELECT file_row_number AS __ord, CAST(NULL AS VARCHAR) AS __raw, CAST(NULL AS VARCHAR) AS __bad, "
           f"{extra} AS __extra{select} FROM read_parquet($path, file_row_number = true)")
    params["path"] = str(path)
    return _Source(sql, params, columns, raw, 0, False)


def _read_csv_header(path: Path, delim: str) -> list[str]:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(1 << 20)
    except EOFError:  # gzip: the stream ends before its end marker
        raise IngestError(f"{path}: truncated or incomplete .gz file") from None
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = head.decode("utf-8-sig", errors="ignore")  # a split multi-byte char at the cut
        if not text.strip():
            raise IngestError(f"{path}: not UTF-8 text") from None
    row = next(csv.reader(io.StringIO(text), delimiter=delim), None)
    if not row or not any(c.strip() for c in row):
        raise IngestError(f"{path}: empty file (a CSV needs a header line)")
    return [c.strip() for c in row]


def _csv_source(con: duckdb.DuckDBPyConnection, schema: LogTable, path: Path) -> _Source:
    delim = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    names = _read_csv_header(path, delim)
    for i, n in enumerate(names):
        if not n:
            raise IngestError(f"{path}: column {i + 1} of the header has no name")
        if n == "__ord":
            raise IngestError(f"{path}: column '__ord' is reserved")
    types = ["VARCHAR"] * len(names)
    columns, extras = _map_columns(path, schema, names, types)
    extra, raw, params = _extra_and_raw(names, types, extras, first=1)
    select = "".join(f", #{i + 1} AS c{i}" for i in range(len(names)))
    sql = (f"SELECT CAST(NULL AS BIGINT) AS __ord, CAST(NULL AS VARCHAR) AS __raw, "
           f"CAST(NULL AS VARCHAR) AS __bad, {extra} AS __extra{select} FROM read_csv($path, columns = $columns, "
           "header = true, auto_detect = false, delim = $delim, quote = '\"', escape = '\"', store_rejects = true, "
           "rejects_table = '_abkit_rej', rejects_scan = '_abkit_rejscan')")
    params.update(path=str(path), delim=delim, columns=dict.fromkeys(names, "VARCHAR"))
    return _Source(sql, params, columns, raw, 1, True, ordered=True)


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _jsonl_source(con: duckdb.DuckDBPyConnection, schema: LogTable, path: Path) -> _Source:
    con.execute("SET preserve_insertion_order = true")
    con.execute(
        """CREATE TEMP TABLE _abkit_raw AS SELECT row_number() OVER () - 1 AS __ord, raw
           FROM read_csv($path, columns = {'raw': 'VARCHAR'}, header = false, auto_detect = false, delim = $delim, quote = '', escape = '',
           store_rejects = true, rejects_table = '_abkit_rej', rejects_scan = '_abkit_rejscan')""",
        {"path": str(path), "delim": _JSONL_DELIM},
    )
    obj = "(CASE WHEN json_valid(raw) THEN json_type(raw) END = 'OBJECT')"
    keys = {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT unnest(json_keys(raw)) FROM _abkit_raw WHERE raw IS NOT NULL AND {obj}"
        ).fetchall()
    }
    present = [f for f in schema.names if f in keys]
    columns = {f: (f"c{i}", "VARCHAR") for i, f in enumerate(present)}
    vals = ", ".join(f"vals[{i + 1}] AS c{i}" for i in range(len(present)))
    # keys beyond the schema, each looked up by its JSON pointer (~ and / escaped)
    extra = """map_from_entries(list_transform(
        list_filter(json_keys(raw), lambda k: NOT list_contains(CAST($known AS VARCHAR[]), k)),
        lambda k: {'key': k, 'value': json_extract_string(raw, '/' || replace(replace(k, '~', '~0'), '/', '~1'))}))"""
    ids = [f.name for f in schema.fields if f.kind == "id" and f.name in present]
    nested_ids = "".join(  # a list or object where an id belongs (json_extract_string would give its JSON text)
        f" WHEN json_type(raw, $idp{i}) IN ('ARRAY', 'OBJECT') THEN $idr{i}" for i in range(len(ids)))
    sql = f"""SELECT __ord, raw AS __raw,
                CASE WHEN NOT json_valid(raw) THEN 'invalid JSON line'
                     WHEN NOT {obj} THEN 'JSON line is not an object'{nested_ids} END AS __bad,
                CASE WHEN cardinality(m) > 0 THEN m END AS __extra
                {', ' + vals if vals else ''}
              FROM (SELECT __ord, raw,
                           CASE WHEN {obj} THEN json_extract_string(raw, CAST($ptrs AS VARCHAR[])) END AS vals,
                           CASE WHEN {obj} THEN {extra} END AS m
                    FROM _abkit_raw WHERE NULLIF(trim(raw), '') IS NOT NULL)"""
    params: dict[str, object] = {"ptrs": [_pointer(f) for f in present] or [_pointer("")], "known": schema.names,
                                 **{f"idp{i}": _pointer(f) for i, f in enumerate(ids)},
                                 **{f"idr{i}": f"{f} is a list or object, not an id" for i, f in enumerate(ids)}}
    return _Source(sql, params, columns, "NULL", 0, True)
