"""`abkit report`: one self-contained HTML report from a stored analysis result.

The report only renders (reports/build.py); this command decides where the result comes from:
``--result FILE.json``, else the latest result stored in the warehouse, else (or with
``--refresh``) a fresh analysis that is stored first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from abkit.atomic import check_output_path
from abkit.cli.app import app, user_errors
from abkit.errors import AbkitError
from abkit.result import AnalysisResult
from abkit.spec import Spec, load_spec


def read_result(path: Path) -> AnalysisResult:
    """An analysis JSON file as a result; a one-line error when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AbkitError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise AbkitError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise AbkitError(f"{path}: not an analysis result (expected a JSON object)")
    return AnalysisResult.from_json(data)


def results_for_report(spec: Spec, db: Path, *, refresh: bool = False, result_json: Path | None = None
                       ) -> tuple[AnalysisResult, list[AnalysisResult]]:
    """(latest, history): the given file or the latest stored result; analyzed and stored first when
    the warehouse holds none for the experiment or ``refresh`` asks for it."""
    from experiments.analysis.analyze import analyze
    from experiments.analysis.store import load_result, store_result

    given = read_result(result_json) if result_json is not None else None
    if not db.exists():
        if given is None:
            raise AbkitError(f"{db}: no such database (ingest some logs first, or give --result FILE.json)")
        return given, []
    from abkit.warehouse import connect

    con = connect(db, read_only=given is not None or not refresh)
    try:
        latest, history = load_result(con, spec.key)
    finally:
        con.close()
    if given is not None:
        return given, history
    if latest is None or refresh:
        con = connect(db)  # the analysis materializes working tables
        try:
            store_result(con, analyze(spec, con))
            latest, history = load_result(con, spec.key)
        finally:
            con.close()
    if latest is None:
        raise AbkitError(f"no analysis result for {spec.key} in {db}")
    return latest, history


def report_from_warehouse(spec_path: Path, db: Path, out: Path, *, lang: str = "zh", png_dir: Path | None = None,
                          result_json: Path | None = None, refresh: bool = False) -> tuple[Path, AnalysisResult]:
    """What `abkit report` does; returns (HTML path, the result rendered)."""
    from experiments.analysis.analyze import analysis_sql
    from reports.build import write_report
    from reports.i18n import check_lang

    check_lang(lang)
    check_output_path(out)
    spec = load_spec(spec_path)
    latest, history = results_for_report(spec, db, refresh=refresh, result_json=result_json)
    path = write_report(out, spec, latest, history=history, lang=lang, sql=analysis_sql(spec), png_dir=png_dir)
    return path, latest


@app.command()
@user_errors
def report(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    db: Annotated[Path, typer.Option(help="DuckDB warehouse file.")] = Path("abkit.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    lang: Annotated[str, typer.Option("--lang", help="Label language: zh or en (metric keys stay English).")] = "zh",
    png: Annotated[Path | None, typer.Option("--png", help="Also write PNGs of the figures into this folder.")] = None,
    result_json: Annotated[
        Path | None, typer.Option("--result", help="Render this analysis JSON instead of the stored result.")
    ] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Analyze now and store the result before rendering.")] = False,
) -> None:
    """Write the experiment report from the latest stored analysis (analyzing first only when none is
    stored, or with --refresh): decision, health, lifts, trends, segments, texts, power, method."""
    path, latest = report_from_warehouse(spec, db, out, lang=lang, png_dir=png, result_json=result_json,
                                         refresh=refresh)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) — decision: {latest.decision.action}")
    if png is not None:
        typer.echo(f"wrote PNGs to {png}")
