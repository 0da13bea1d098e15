"""`abkit policy`: the per-segment policy of an analysis (spec ``heterogeneity:``) as a small file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from abkit.cli.app import app, user_errors


def policy_document(result: dict[str, Any]) -> dict[str, Any]:
    """The policy file's content from an analysis JSON object."""
    from abkit.errors import AbkitError

    pol = result.get("policy")
    if not isinstance(pol, dict):
        raise AbkitError("the analysis has no policy: add `heterogeneity:` to the spec and analyze again")
    return {
        "experiment": result.get("experiment"),
        "metric": pol["metric"],
        "dimension": pol["dimension"],
        "default_arm": pol["default"] or pol["best_single_arm"],
        "assignments": pol["assignments"],
        "expected_gain": {"relative": pol["gain"], "se": pol["gain_se"],
                          "over": f"the best single arm ({pol['best_single_arm']})"},
        "exploratory": True,
        "note": pol["note"],
    }


@app.command()
@user_errors
def policy(
    result: Path = typer.Argument(..., help="Analysis JSON written by `abkit analyze --json`."),
    out: Path = typer.Option(..., "--out", "-o", help="Policy file to write (.yaml/.yml or .json)."),
) -> None:
    """Write the recommended arm per segment (from the heterogeneity explorer) as a policy file.

    A policy applies only after the experiment ships, or as the treatment arm of a follow-up
    experiment; never inside the running experiment, which would break its randomization."""
    import json

    import yaml

    from abkit.errors import AbkitError

    try:
        data = json.loads(result.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AbkitError(f"{result}: not valid JSON (line {exc.lineno})") from None
    doc = policy_document(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".yaml", ".yml"):
        out.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    elif out.suffix.lower() == ".json":
        out.write_text(json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False), encoding="utf-8")
    else:
        raise AbkitError(f"--out {out}: use a .yaml, .yml or .json file name")
    typer.echo(f"wrote {out} ({len(doc['assignments'])} segments, default {doc['default_arm']})")
