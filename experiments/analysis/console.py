"""The analysis as text: header lines, the metric rows and each breakdown, as plain strings.

The CLI prints them (abkit/cli/analysis.py): every column with full values when the output is a
pipe or a log, and the compact columns at a terminal, so that the table stays readable at 80
columns (the rest is in the JSON). Values are user data (arm names, dimension values) and are
never read as console markup.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from abkit.result import AnalysisResult, MetricRow

METRIC_COLUMNS = ("metric", "arm", "vs", "family", "control", "treatment", "rel lift", "rel CI", "p", "p adj",
                  "CUPED VR", "note")
# At a terminal: the columns a decision is read from; "arm" then says "B vs A" for arm-vs-arm rows.
COMPACT_METRIC_COLUMNS = ("metric", "arm", "rel lift", "rel CI", "p adj")
BREAKDOWN_COLUMNS = ("value", "metric", "arm", "users", "rel lift", "rel CI", "p", "p adj")
COMPACT_BREAKDOWN_COLUMNS = ("value", "metric", "arm", "rel lift", "rel CI", "p adj")
NUMERIC_COLUMNS = ("control", "treatment", "rel lift", "rel CI", "p", "p adj", "CUPED VR", "users")


def _fmt(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _rel_ci(r: MetricRow) -> str:
    return f"[{_fmt(r.rel_ci_low, '+.2%')}, {_fmt(r.rel_ci_high, '+.2%')}]" if r.rel_ci_low is not None else "—"


def header_lines(result: AnalysisResult) -> list[str]:
    """Experiment, users per arm and the sample-ratio check."""
    users = ", ".join(f"{a} {n:,}" for a, n in result.users.items())
    srm = result.srm
    return [f"{result.experiment}: {users}; excluded multi-arm {result.excluded_multi_arm_users or 0:,}; "
            f"SRM p = {_fmt(srm.p_value, '.3g')} ({'ok' if srm.ok else 'MISMATCH'})"]


def decision_lines(result: AnalysisResult) -> list[str]:
    d = result.decision
    return [f"decision: {d.action.upper()}" + (f" ({d.arm})" if d.arm else ""), *(f"• {r}" for r in d.reasons)]


def _cells(r: MetricRow) -> dict[str, str]:
    return {
        "metric": r.metric, "arm": r.arm, "vs": r.baseline, "family": r.family,
        "control": _fmt(r.control_value, ".4g"), "treatment": _fmt(r.treatment_value, ".4g"),
        "rel lift": _fmt(r.rel_lift, "+.2%"), "rel CI": _rel_ci(r), "p": _fmt(r.p_value, ".3g"),
        "p adj": _fmt(r.p_value_adjusted, ".3g"),
        "CUPED VR": _fmt(r.variance_reduction, ".0%") if r.cuped else "—", "note": r.warning or "",
    }


def metric_rows(result: AnalysisResult, columns: tuple[str, ...] = METRIC_COLUMNS) -> list[list[str]]:
    """One row of ``columns`` per metric row; without a "vs" column, "arm" says "B vs A" where the
    baseline is not the control."""
    rows = []
    for r in result.metrics:
        cells = _cells(r)
        if "vs" not in columns and r.baseline and r.baseline != result.control:
            cells["arm"] = f"{r.arm} vs {r.baseline}"
        rows.append([cells[c] for c in columns])
    return rows


def breakdown_rows(result: AnalysisResult, dimension: str,
                   columns: tuple[str, ...] = BREAKDOWN_COLUMNS) -> list[list[str]]:
    """One dimension's rows (their own correction family ``breakdown:<dimension>``)."""
    rows = []
    for r in result.breakdowns.get(dimension, ()):
        cells = {**_cells(r), "value": str(r.value),
                 "users": "/".join(f"{n:,}" for n in r.users.values())}
        rows.append([cells[c] for c in columns])
    return rows


def metrics_table(result: AnalysisResult, columns: tuple[str, ...] = METRIC_COLUMNS) -> Table:
    """The metric rows as a rich Table for any console: cells are ``Text``, never parsed as markup."""
    table = Table(title=Text(header_lines(result)[0]), caption=Text("\n".join(decision_lines(result))),
                  caption_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in NUMERIC_COLUMNS else "left", overflow="fold")
    for row in metric_rows(result, columns):
        table.add_row(*(Text(cell) for cell in row))
    return table
