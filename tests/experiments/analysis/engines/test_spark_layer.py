"""The thin per-engine layer, without a JVM: parameter markers, bound values, settings, errors,
and a guard that the shared SQL stays in the DuckDB/Spark common subset."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abkit.cli import app
from experiments.analysis.engines.base import EngineError, check_location, input_summary
from experiments.analysis.engines.spark_engine import find_java, parse_conf, spark_args, to_spark_sql
from experiments.analysis.queries import SQL_DIR


def test_parameters_become_spark_markers() -> None:
    sql = "SELECT * FROM t WHERE ts >= $window_start AND ts < $window_end + $click_window AND a = '$x'"
    assert to_spark_sql(sql) == ("SELECT * FROM t WHERE ts >= :window_start AND ts < :window_end + :click_window"
                                 " AND a = ':x'")  # no user text is ever in SQL, so no literal holds a marker


def test_naive_datetimes_are_bound_as_utc_instants() -> None:
    args = spark_args({"t": dt.datetime(2026, 11, 1, 8), "w": dt.timedelta(hours=1), "k": "exp", "n": None})
    assert args["t"] == dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC) and args["t"].utcoffset() == dt.timedelta(0)
    assert args["w"] == dt.timedelta(hours=1) and args["k"] == "exp" and args["n"] is None
    aware = dt.datetime(2026, 11, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert spark_args({"t": aware})["t"] is aware


def test_spark_conf_pairs() -> None:
    assert parse_conf(["spark.master=spark://h:7077", "spark.executor.memory = 8g", "a.b=x=y"]) == {
        "spark.master": "spark://h:7077", "spark.executor.memory": "8g", "a.b": "x=y"}
    with pytest.raises(EngineError, match="key=value"):
        parse_conf(["spark.master"])


def test_missing_java_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(EngineError, match="needs a Java runtime"):
        find_java()
    runner = CliRunner()
    spec = Path(__file__).resolve().parents[4] / "experiments" / "reason_gen_v1.yaml"
    res = runner.invoke(app, ["analyze", str(spec), "--engine", "spark", "--exposures", str(spec.parent),
                              "--events", str(spec.parent)])
    assert res.exit_code == 2 and "needs a Java runtime" in res.output and "Traceback" not in res.output


def test_locations(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"")
    assert check_location("exposures", str(tmp_path / "*.parquet"))
    assert check_location("exposures", "s3a://bucket/exposures/") == "s3a://bucket/exposures/"
    assert check_location("events", "lake.events") == "lake.events"
    with pytest.raises(EngineError, match="no such file"):
        check_location("events", str(tmp_path / "nope" / "*.parquet"))
    with pytest.raises(EngineError, match="neither a Parquet path nor a table name"):
        check_location("events", "events; DROP TABLE x")


def test_cli_needs_both_log_locations(tmp_path: Path) -> None:
    spec = Path(__file__).resolve().parents[4] / "experiments" / "reason_gen_v1.yaml"
    res = CliRunner().invoke(app, ["analyze", str(spec), "--engine", "spark", "--exposures", str(tmp_path)])
    assert res.exit_code == 2 and "--events" in res.output
    res = CliRunner().invoke(app, ["analyze", str(spec), "--engine", "flink"])
    assert res.exit_code == 2 and "expected duckdb or spark" in res.output


def test_input_summary_adds_up() -> None:
    s = input_summary({"events": {"accepted": 90, "duplicate": 6, "negative revenue": 3, "missing ts": 1}})
    assert s == {"events": {"read": 100, "accepted": 90, "duplicates": 6,
                            "invalid": {"missing ts": 1, "negative revenue": 3}}}


_NOT_PORTABLE = [r"::", r"\bQUALIFY\b", r"\bASOF\b", r"\bVARCHAR\b", r"\bEXCLUDE\b", r"\bGROUP BY ALL\b",
                 r"\blist_\w+\(", r"\bstruct_pack\b", r"\bILIKE\b", r"\bUSING SAMPLE\b"]


@pytest.mark.parametrize("path", sorted(SQL_DIR.glob("*.sql")), ids=lambda p: p.name)
def test_shared_sql_avoids_duckdb_only_syntax(path: Path) -> None:
    code = "\n".join(line.split("--", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
    found = [p for p in _NOT_PORTABLE if re.search(p, code, flags=re.IGNORECASE)]
    assert not found, f"{path.name} uses {found}: write the common DuckDB/Spark form (or a per-engine slot)"
