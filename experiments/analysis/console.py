"""The analysis on a terminal: rich tables of the metric rows and of each breakdown."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from abkit.result import AnalysisResult, MetricRow


def _fmt(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _rel_ci(r: MetricRow) -> str:
    return f"[{_fmt(r.rel_ci_low, '+.2%')}, {_fmt(r.rel_ci_high, '+.2%')}]" if r.rel_ci_low is not None else "—"


def metrics_table(result: AnalysisResult) -> Table:
    """The metrics of one analysis as a rich Table (decision and data checks in the title and caption)."""
    users = ", ".join(f"{a} {n:,}" for a, n in result.users.items())
    srm = result.srm
    title = (f"{result.experiment}: {users}; excluded multi-arm {result.excluded_multi_arm_users or 0:,}; "
             f"SRM p = {_fmt(srm.p_value, '.3g')} ({'ok' if srm.ok else 'MISMATCH'})")
    d = result.decision
    caption = f"decision: {d.action.upper()}" + (f" ({d.arm})" if d.arm else "")
    caption += "".join(f"\n• {r}" for r in d.reasons)
    table = Table(title=title, caption=caption, caption_justify="left")
    for col in ("metric", "arm", "vs", "family"):
        table.add_column(col, justify="left")
    for col in ("control", "treatment", "rel lift", "rel CI", "p", "p adj", "CUPED VR"):
        table.add_column(col, justify="right")
    table.add_column("note", justify="left")
    for r in result.metrics:
        style = ("green" if (r.abs_lift or 0) > 0 else "red") if r.significant else None
        table.add_row(r.metric, r.arm, r.baseline, r.family, _fmt(r.control_value, ".4g"),
                      _fmt(r.treatment_value, ".4g"), _fmt(r.rel_lift, "+.2%"), _rel_ci(r),
                      _fmt(r.p_value, ".3g"), _fmt(r.p_value_adjusted, ".3g"),
                      _fmt(r.variance_reduction, ".0%") if r.cuped else "—",
                      (r.warning or "")[:60], style=style)
    return table


def breakdown_table(result: AnalysisResult, dimension: str) -> Table:
    """One dimension's breakdown rows as a rich Table (their own correction family)."""
    table = Table(title=f"breakdown by {dimension} (family breakdown:{dimension})")
    for col in ("value", "metric", "arm", "users", "rel lift", "rel CI", "p", "p adj"):
        table.add_column(col)
    for r in result.breakdowns.get(dimension, ()):
        users = "/".join(f"{n:,}" for n in r.users.values())
        table.add_row(str(r.value), r.metric, r.arm, users, _fmt(r.rel_lift, "+.2%"), _rel_ci(r),
                      _fmt(r.p_value, ".3g"), _fmt(r.p_value_adjusted, ".3g"))
    return table


def print_result(result: AnalysisResult) -> None:
    """Metrics, every breakdown and the notes on the terminal."""
    from rich.console import Console

    console = Console()
    console.print(metrics_table(result))
    for name in result.breakdowns:
        console.print(breakdown_table(result, name))
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
