"""Text commands: lint candidate reasons; export a review sample and score reviewers' labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from abkit.cli.app import app, user_errors


@app.command("lint-reasons")
@user_errors
def lint_reasons(
    file: Annotated[Path, typer.Argument(help="Candidate texts (.csv/.tsv/.jsonl/.parquet) with a text column, optional item_id.")],
    items: Annotated[Path | None, typer.Option("--items", help="Catalog file (docs/interface.md, Data items) for faithfulness checks.")] = None,
    db: Annotated[Path | None, typer.Option("--db", help="Warehouse whose items table is the catalog.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the findings as JSON.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print failing texts only.")] = False,
    text_lexicon: Annotated[Path | None, typer.Option(
        "--text-lexicon", help="YAML extension: synonym groups, value sets, subjective words, compliance terms "
                               "(docs/text-evaluation.md).")] = None,
) -> None:
    """Check texts for banned absolute terms (广告法) and claims their item contradicts; exit 1 if any fails."""
    from abkit.errors import AbkitError
    from abkit.text.extension import load_extension
    from abkit.text.lint import lint_texts
    from abkit.text.tables import read_items_db, read_table

    if items is not None and db is not None:
        raise AbkitError("give either --items or --db, not both")
    df = read_table(file, required=["text"])
    catalog = None
    if items is not None:
        catalog = read_table(items, required=["item_id"])
    elif db is not None:
        catalog = read_items_db(db, df["item_id"].tolist() if "item_id" in df.columns else [])
    report = lint_texts(df, catalog, load_extension(text_lexicon))
    for p in report.problems:
        if quiet and not p["fail"]:
            continue
        status = "FAIL" if p["fail"] else "note"
        typer.echo(f"{file}:{p['line']}: {status} item={p['item_id']} {p['text']!s}: " + "; ".join(p["problems"]))
    typer.echo(report.summary())
    if json_out is not None:
        from abkit.atomic import atomic_write_text

        atomic_write_text(json_out, json.dumps({"summary": report.summary(), "checked": report.checked,
                                                "failed": report.failed, "problems": report.problems},
                                               ensure_ascii=False, indent=1))
    if report.failed:
        raise typer.Exit(1)


@app.command("review-sample")
@user_errors
def review_sample_cmd(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    db: Annotated[Path | None, typer.Option("--db", help="Warehouse (needed to draw a sample).")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Rows to draw (split equally across arms).")] = 200,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the sample (.csv, .jsonl or .parquet).")] = None,
    labels: Annotated[Path | None, typer.Option("--labels", help="A reviewed sample: print the checkers' accuracy.")] = None,
) -> None:
    """Export a seeded, stratified sample of exposed texts for human review, or score reviewers' labels."""
    from abkit.errors import AbkitError
    from abkit.spec import load_spec

    s = load_spec(spec)
    if labels is not None:
        from abkit.text.review import evaluate_labels
        from abkit.text.tables import read_table

        result = evaluate_labels(read_table(labels))
        for checker, r in result.items():
            fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
            typer.echo(f"{checker:10s} labelled {r['labelled']:4d}  tp {r['tp']} fp {r['fp']} fn {r['fn']} tn {r['tn']}  "
                       f"precision {fmt(r['precision'])} recall {fmt(r['recall'])} accuracy {fmt(r['accuracy'])} "
                       "(weighted to all exposed texts)")
        typer.echo(json.dumps({"experiment": s.key, "checkers": result}, ensure_ascii=False))
        return
    if db is None or out is None:
        raise AbkitError("review-sample needs --db and --out (or --labels FILE to score a reviewed sample)")
    from abkit.atomic import atomic_path, check_output_path

    check_output_path(out)
    from abkit.text.review import exposed_texts, for_spreadsheet, review_sample
    from abkit.warehouse import connect

    con = connect(db, read_only=True)
    try:
        exposed = exposed_texts(con, s)
    finally:
        con.close()
    sample = review_sample(exposed, n=n, seed=s.seed)
    suffix = out.name.lower()
    with atomic_path(out) as tmp:
        if suffix.endswith((".parquet", ".pq")):
            sample.to_parquet(tmp, index=False)
        elif suffix.endswith((".jsonl", ".json")):
            sample.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:  # a CSV is opened in a spreadsheet: texts must not run as formulas
            # CRLF line ends (RFC 4180) so that a CR inside a text gets quoted, not read as a row break
            for_spreadsheet(sample).to_csv(tmp, index=False, encoding="utf-8", lineterminator="\r\n")
    counts = sample.groupby(["arm", "stratum"]).size().to_dict()
    typer.echo(f"wrote {len(sample)} rows to {out} (" + ", ".join(f"{a}/{st}: {c}" for (a, st), c in counts.items())
               + "); fill label_ad_law and label_unfaithful with 1/0, then run with --labels")
