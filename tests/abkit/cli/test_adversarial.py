"""Adversarial inputs, through the real `abkit` command: the corpus of issue 17.

Every input is generated here (no large files). For every bad input the command must exit with
the documented code, print exactly ONE line on stderr and no traceback, and, where it must not
write, leave every table of the warehouse unchanged (row count and a hash of every row).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[3]
TZ_SPEC = """\
key: adv
name: adversarial
arms:
  - {name: "control [beta]", weight: 0.5, generator: {type: template}}
  - {name: "neural[/x]", weight: 0.5, generator: {type: template}}
start: 2026-11-01
end: 2026-11-04
timezone: Asia/Shanghai
primary_metric: ctr
"""
EVENTS_HEADER = "event_id,ts,user_id,item_id,type,revenue\n"


def spec_with(**changes: str) -> str:
    """The base spec with top-level keys replaced (values are YAML text)."""
    lines, dropping = [], False
    for ln in TZ_SPEC.splitlines():
        if not ln.startswith(" "):
            dropping = ln.split(":")[0] in changes
        if not dropping:
            lines.append(ln)
    return "\n".join(lines + [f"{k}: {v}" for k, v in changes.items()]) + "\n"


def abkit(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "abkit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def checksums(db: Path) -> dict[str, tuple[int, int]]:
    """Rows and the sum of row hashes of every table: any insert, delete or update changes it."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [n for (n,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        return {n: con.execute(f'SELECT count(*), coalesce(sum(hash(t)), 0) FROM "{n}" t').fetchone() for n in names}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """A small warehouse for TZ_SPEC: catalog, reasons for both bracketed arms, two days of traffic."""
    import yaml

    from abkit.spec import parse_spec
    from abkit.warehouse import connect
    from abkit.world.catalog import make_catalog
    from experiments.ingest.files import ingest_files
    from experiments.simulate.pipeline import simulate_into
    from experiments.simulate.traffic import SimOptions
    from generators.runner import run_generate

    d = tmp_path_factory.mktemp("adv")
    spec = parse_spec(yaml.safe_load(TZ_SPEC))
    make_catalog(120, seed=1).to_parquet(d / "items.parquet", index=False)
    con = connect(d / "w.duckdb")
    try:
        ingest_files(con, "items", [d / "items.parquet"])
        run_generate(spec, con, progress=False)
        simulate_into(spec, con, SimOptions(seed=1, days=2), n_users=1500, out_dir=d / "sim")
    finally:
        con.close()
    (d / "spec.yaml").write_text(TZ_SPEC, encoding="utf-8")
    return d


@dataclass
class Case:
    """One adversarial input: files to create, the command, and what must come out."""

    name: str
    args: list[str]
    code: int
    message: str  # a substring of the one stderr line
    files: dict[str, bytes | str] = field(default_factory=dict, repr=False)
    db_unchanged: bool = True


def _gz_truncated() -> bytes:
    data = gzip.compress((EVENTS_HEADER + "".join(
        f"e{i},2026-11-01T10:00:00Z,u{i},i1,click,\n" for i in range(5000))).encode())
    return data[: len(data) // 2]


CASES = [
    # --- specs (finding 5): one line naming the key, nothing written
    Case("spec-impossible-date", ["analyze", "bad.yaml", "--db", "{db}"], 2, "bad.yaml: start:",
         {"bad.yaml": spec_with(start="2026-02-30")}),
    Case("spec-not-utf8", ["analyze", "bad.yaml", "--db", "{db}"], 2, "bad.yaml: not UTF-8",
         {"bad.yaml": TZ_SPEC.encode("utf-8").replace(b"adversarial", b"adv\xff\xfe")}),
    Case("spec-huge-order-window", ["analyze", "bad.yaml", "--db", "{db}"], 2, "bad.yaml: order_window:",
         {"bad.yaml": spec_with(order_window="999999999d")}),
    Case("spec-negative-click-window", ["analyze", "bad.yaml", "--db", "{db}"], 2, "bad.yaml: click_window:",
         {"bad.yaml": spec_with(click_window="-3600")}),
    Case("spec-zero-click-window", ["analyze", "bad.yaml", "--db", "{db}"], 2, "bad.yaml: click_window:",
         {"bad.yaml": spec_with(click_window="0")}),
    Case("spec-year-one-start", ["analyze", "bad.yaml", "--db", "{db}"], 2, "bad.yaml: start:",
         {"bad.yaml": spec_with(start="0001-01-01")}),
    Case("spec-lookback-nan", ["validate", "bad.yaml"], 2, "bad.yaml: cuped_lookback:",
         {"bad.yaml": spec_with(cuped_lookback=".nan")}),
    Case("spec-window-overflowing-seconds", ["validate", "bad.yaml"], 2, "bad.yaml: click_window:",
         {"bad.yaml": spec_with(click_window="1" + "0" * 30)}),
    # --- outputs that cannot be files (finding 4)
    Case("aa-json-is-a-directory", ["aa", "{spec}", "--runs", "2", "--users", "50", "--json", "outdir"], 2,
         "outdir: is a directory", {"outdir/keep": "x"}),
    Case("review-sample-out-is-a-directory", ["review-sample", "{spec}", "--db", "{db}", "--out", "outdir"], 2,
         "outdir: is a directory", {"outdir/keep": "x"}),
    Case("lint-json-is-a-directory", ["lint-reasons", "texts.csv", "--json", "outdir"], 2,
         "outdir: is a directory", {"outdir/keep": "x", "texts.csv": "text\n好物推荐\n"}),
    # --- input files (finding 6)
    Case("ingest-truncated-gzip", ["ingest", "events", "events.csv.gz", "--db", "{db}"], 2, "events.csv.gz",
         {"events.csv.gz": _gz_truncated()}),
    Case("analyze-json-is-a-directory", ["analyze", "{spec}", "--db", "{db}", "--json", "outdir"], 2,
         "outdir: is a directory", {"outdir/keep": "x"}),
    Case("report-out-is-a-directory", ["report", "{spec}", "--db", "{db}", "--out", "outdir"], 2,
         "outdir: is a directory", {"outdir/keep": "x"}),
    # --- options (findings 1 and 6)
    Case("memory-limit-not-a-size", ["analyze", "{spec}", "--db", "{db}", "--memory-limit", "abc"], 2,
         "--memory-limit 'abc'"),
    Case("memory-limit-zero", ["analyze", "{spec}", "--db", "{db}", "--memory-limit", "0"], 2, "--memory-limit '0'"),
    Case("memory-limit-too-small", ["analyze", "{spec}", "--db", "{db}", "--memory-limit", "10MB"], 2,
         "--memory-limit '10MB': too small"),
    Case("as-of-year-one-east-of-utc", ["analyze", "{spec}", "--db", "{db}", "--as-of", "0001-01-01T00:00:00+05:00"],
         2, "--as-of"),
    Case("ingest-ts-range-reversed", ["ingest", "events", "e.csv", "--db", "{db}", "--ts-range",
                                      "2100-01-01..2000-01-01"], 2, "--ts-range", {"e.csv": EVENTS_HEADER}),
    # --- silent traps (finding 12)
    Case("simulate-before-generate", ["simulate", "other.yaml", "--db", "{db}", "--users", "100"], 2,
         "A/A test by accident", {"other.yaml": spec_with(key="other")}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_one_line_and_changes_nothing(case: Case, warehouse: Path, tmp_path: Path) -> None:
    for rel, content in case.files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    db = warehouse / "w.duckdb"
    before = checksums(db)
    args = [a.format(db=db, spec=warehouse / "spec.yaml") for a in case.args]
    proc = abkit(*args, cwd=tmp_path)
    line = one_error_line(proc)
    assert proc.returncode == case.code, (proc.returncode, proc.stderr)
    assert line.startswith("abkit: error: ") and case.message in line, line
    if case.db_unchanged:
        assert checksums(db) == before


# --- user strings with brackets print as written (finding 3) and pipes get full values (finding 8)

def test_bracketed_file_name_and_long_counts_print_in_full(warehouse: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p["
    folder.mkdir()
    rows = "".join(f"b{i},2026-11-01T10:00:00Z,u{i},i1,click,\n" for i in range(1_234_567 // 1000))
    (folder / "x].csv").write_text(EVENTS_HEADER + rows, encoding="utf-8")
    db = tmp_path / "fresh.duckdb"
    proc = abkit("ingest", "events", "p[/x].csv", "--db", str(db), cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "p[/x].csv" in proc.stdout and "…" not in proc.stdout
    assert "quarantined" in proc.stdout and "1,234" in proc.stdout
    assert not any(ch in proc.stdout for ch in "┃│━"), "a pipe gets plain text, not a drawn table"


def test_simulate_rerun_keeps_the_truth_of_the_stored_logs(warehouse: Path, tmp_path: Path) -> None:
    """Re-running simulate (e.g. after new reasons were generated) must not rewrite the truth."""
    truth = tmp_path / "truth.json"
    db = tmp_path / "w.duckdb"
    db.write_bytes((warehouse / "w.duckdb").read_bytes())
    first = abkit("simulate", str(warehouse / "spec.yaml"), "--db", str(db), "--users", "300", "--seed", "5",
                  "--truth", str(truth), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    kept = truth.read_bytes()
    with duckdb.connect(str(db)) as con:  # the texts change after the logs were stored
        con.execute("UPDATE reasons SET text = text || '!'")
    again = abkit("simulate", str(warehouse / "spec.yaml"), "--db", str(db), "--users", "300", "--seed", "5",
                  "--truth", str(truth), cwd=tmp_path)
    assert again.returncode == 0
    assert "0 new exposures" in one_error_line(again)
    assert truth.read_bytes() == kept
    assert "truth written" not in again.stdout


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]


def test_review_sample_csv_cannot_run_formulas(warehouse: Path, tmp_path: Path) -> None:
    """Finding 7 (OWASP CSV injection): texts starting with = + - @ tab CR open as text, not formulas."""
    import csv

    db = tmp_path / "w.duckdb"
    db.write_bytes((warehouse / "w.duckdb").read_bytes())
    with duckdb.connect(str(db)) as con:
        ids = [r for (r,) in con.execute("SELECT reason_id FROM reasons ORDER BY reason_id").fetchall()]
        for i, rid in enumerate(ids):
            con.execute("UPDATE reasons SET text = ? WHERE reason_id = ?", [FORMULAS[i % len(FORMULAS)], rid])
    out = tmp_path / "sample.csv"
    proc = abkit("review-sample", str(warehouse / "spec.yaml"), "--db", str(db), "--n", "24", "--out", str(out),
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
        assert row["text"].startswith("'") and row["text"][1:] in FORMULAS
    assert any(r["arm"] == "neural[/x]" for r in rows)  # ordinary values are written as they are


# --- silent traps (finding 12)

def test_generate_says_how_much_work_before_starting_and_draws_no_bars_in_a_pipe(warehouse: Path,
                                                                                 tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    db.write_bytes((warehouse / "w.duckdb").read_bytes())
    (tmp_path / "other.yaml").write_text(spec_with(key="other"), encoding="utf-8")
    proc = abkit("generate", "other.yaml", "--db", str(db), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("about 240 reasons to generate for 120 items"), first
    assert proc.stderr == ""  # progress bars (carriage returns) only on a terminal


def test_the_estimate_of_a_long_neural_run_suggests_fewer_items(tmp_path: Path) -> None:
    import pandas as pd
    import yaml

    from abkit.spec import parse_spec
    from abkit.warehouse import connect
    from generators.runner import estimate_line

    spec = parse_spec(yaml.safe_load(spec_with(
        arms='[{name: c, weight: 0.5, generator: {type: template}}, {name: n, weight: 0.5, generator: {type: neural}}]',
        segments="[a, b, c]")))
    con = connect(tmp_path / "w.duckdb")
    try:
        line = estimate_line(spec, con, pd.DataFrame({"item_id": [f"i{i}" for i in range(2000)]}), spec.arms, None)
    finally:
        con.close()
    assert line.startswith("about 8,000 reasons to generate for 2,000 items (c: 2,000, n: 6,000)"), line
    assert "roughly 40 min" in line and "--items" in line


def test_validate_prints_the_window_in_the_spec_time_zone(warehouse: Path) -> None:
    proc = abkit("validate", "spec.yaml", cwd=warehouse)
    assert proc.returncode == 0, proc.stderr
    assert "window (Asia/Shanghai): 2026-11-01 00:00 – 2026-11-04 00:00" in proc.stdout
    assert "window (UTC): 2026-10-31 16:00 – 2026-11-03 16:00" in proc.stdout


def test_aa_with_few_runs_warns_about_the_width_of_its_rate(warehouse: Path, tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from abkit.cli import app

    def fake_run_aa(spec, runs, **_kwargs):
        return {"seconds": 0.0, "alpha": spec.alpha, "false_positive_rate": {"ctr": 0.0},
                "false_positive_ci": {"ctr": [0.0, 0.43]}}

    monkeypatch.setattr("experiments.simulate.aa.run_aa", fake_run_aa)
    spec = str(warehouse / "spec.yaml")
    few = CliRunner().invoke(app, ["aa", spec, "--runs", "5", "--json", str(tmp_path / "aa.json")])
    assert few.exit_code == 0, few.output
    assert "with 5 runs the false-positive rate is only known to about ±19 points" in few.stderr
    many = CliRunner().invoke(app, ["aa", spec, "--runs", "1000", "--json", str(tmp_path / "aa.json")])
    assert many.exit_code == 0 and "warning" not in many.stderr


def test_native_library_log_lines_are_dropped_in_a_pipe_and_the_rest_kept() -> None:
    script = (
        "import os, sys\n"
        "from abkit.cli.output import quiet_native_logs\n"
        "with quiet_native_logs():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1796166359.662918   13844 cudart_stub.cc:31] Could not find cuda drivers\\n')\n"
        "    os.write(2, b'2026-12-01 10:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations\\n')\n"
        "    print('abkit: error: kept [1/2]', file=sys.stderr)\n"
        "print('after', file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=60, check=True)
    assert proc.stderr == "abkit: error: kept [1/2]\nafter\n"


# --- analysis output: brackets, pipes, a terminal, a full disk (findings 3, 4, 8), extreme data (1)

def test_analyze_with_bracketed_arms_prints_them_and_writes_the_json(warehouse: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    db.write_bytes((warehouse / "w.duckdb").read_bytes())
    out = tmp_path / "r.json"
    proc = abkit("analyze", str(warehouse / "spec.yaml"), "--db", str(db), "--json", str(out),
                 "--dimension", "platform", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "neural[/x]" in proc.stdout and "control [beta]" in proc.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["control"] == "control [beta]"
    # a pipe gets every column with full values: no ellipsis, the wide columns present
    assert "…" not in proc.stdout
    header = next(ln for ln in proc.stdout.splitlines() if ln.startswith("metric "))
    assert header.split() == ["metric", "arm", "vs", "family", "control", "treatment", "rel", "lift", "rel", "CI",
                              "p", "p", "adj", "CUPED", "VR", "note"]


def test_the_terminal_table_is_readable_at_80_columns(warehouse: Path) -> None:
    from rich.console import Console

    from abkit.cli.analysis import print_result
    from abkit.result import AnalysisResult
    from abkit.spec import load_spec
    from abkit.warehouse import connect
    from experiments.analysis.analyze import analyze

    con = connect(warehouse / "w.duckdb", read_only=True)
    try:
        result = analyze(load_spec(warehouse / "spec.yaml"), con, dimensions=["platform"], text_metrics=False)
    finally:
        con.close()
    assert isinstance(result, AnalysisResult)
    console = Console(force_terminal=True, width=80, record=True, color_system=None)
    print_result(result, console)
    text = console.export_text()
    assert max(len(ln) for ln in text.splitlines()) <= 80
    assert "…" not in text
    for r in result.metrics:  # full numbers, not cut
        if r.rel_lift is not None:
            assert f"{r.rel_lift:+.2%}" in text


def _enospc(*_args, **_kwargs):
    import errno

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_keeps_the_previous_json_and_report(warehouse: Path, tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from abkit.cli import app

    db = tmp_path / "w.duckdb"
    db.write_bytes((warehouse / "w.duckdb").read_bytes())
    spec = str(warehouse / "spec.yaml")
    out, page = tmp_path / "r.json", tmp_path / "report.html"
    out.write_text('{"previous": "good"}', encoding="utf-8")
    page.write_text("<p>previous report</p>", encoding="utf-8")
    monkeypatch.setattr(os, "write", _enospc)  # every byte the atomic writer tries to write
    r = CliRunner().invoke(app, ["analyze", spec, "--db", str(db), "--json", str(out)])
    assert r.exit_code == 2 and r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.stderr.strip().splitlines() == [f"abkit: error: {out}: cannot write (No space left on device); "
                                              "any previous file is unchanged"]
    r = CliRunner().invoke(app, ["report", spec, "--db", str(db), "--out", str(page)])
    assert r.exit_code == 2 and "No space left on device" in r.stderr and r.stderr.count("\n") == 1
    monkeypatch.undo()
    assert out.read_text(encoding="utf-8") == '{"previous": "good"}'
    assert page.read_text(encoding="utf-8") == "<p>previous report</p>"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_report_survives_a_timestamp_at_the_end_of_the_calendar(warehouse: Path, tmp_path: Path) -> None:
    """An exposure at 9999-12-31T20:00Z (accepted with a widened --ts-range) in an Asia/Shanghai spec."""
    db = tmp_path / "w.duckdb"
    db.write_bytes((warehouse / "w.duckdb").read_bytes())
    (tmp_path / "x.csv").write_text("event_id,ts,experiment,user_id,item_id,arm\n"
                                    "late1,9999-12-31T20:00:00Z,adv,u_late,i1,neural[/x]\n", encoding="utf-8")
    ing = abkit("ingest", "exposures", "x.csv", "--db", str(db), "--ts-range", "2000-01-01..9999-12-31T23:59:59",
                cwd=tmp_path)
    assert ing.returncode == 0 and "quarantined" in ing.stdout and "rows quarantined" not in ing.stdout, ing.stdout
    proc = abkit("report", str(warehouse / "spec.yaml"), "--db", str(db), "--out", "r.html", "--refresh",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "9999-12-31" in (tmp_path / "r.html").read_text(encoding="utf-8")
