"""`abkit report`: one self-contained HTML report from the stored analysis results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from abkit.cli.app import app, user_errors


@app.command()
@user_errors
def report(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    db: Annotated[Path, typer.Option(help="DuckDB warehouse file.")] = Path("abkit.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    lang: Annotated[str, typer.Option("--lang", help="Label language: zh or en (metric keys stay English).")] = "zh",
    png: Annotated[Path | None, typer.Option("--png", help="Also write PNGs of the figures into this folder.")] = None,
    result_json: Annotated[
        Path | None, typer.Option("--result", help="Use this analysis JSON instead of the stored result.")
    ] = None,
) -> None:
    """Write the experiment report: decision, health, lifts, trends, segments, texts, power, method."""
    from reports.build import report_from_warehouse

    path, latest = report_from_warehouse(spec, db, out, lang=lang, png_dir=png, result_json=result_json)
    size_mb = path.stat().st_size / 1e6
    action = (latest.get("decision") or {}).get("action", "no_decision")
    typer.echo(f"wrote {path} ({size_mb:.1f} MB) — decision: {action}")
    if png is not None:
        typer.echo(f"wrote PNGs to {png}")
