"""One function per report figure: parts of an abkit.result.AnalysisResult in, a plotly Figure out
(also fine in a notebook).

Every string that came from users or models (arm names, segment values, feature levels) is
HTML-escaped before it reaches plotly, because plotly renders a subset of HTML tags in labels.

    from reports import figures
    figures.forest_plot(AnalysisResult.from_json(data)).show()
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from abkit.planning import SamplePlan
from abkit.result import (
    AnalysisResult,
    ArmPlanning,
    ArmText,
    BreakdownRow,
    CumulativePoint,
    DailyPoint,
    MetricRow,
    TextFeatureRow,
)
from abkit.stats.power import power_at
from reports.festivals import flag_days
from reports.i18n import metric_label, tr

FONT = "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, Helvetica, Arial, sans-serif"
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"]
SIG_COLOR, NONSIG_COLOR, WORSE_COLOR = "#1a7f37", "#6e7781", "#cf222e"


def direction(row: MetricRow) -> str | None:
    """'better' / 'worse' / None as the analysis decided (older results: `significant` and the lift's sign)."""
    if row.significance in ("better", "worse"):
        return row.significance
    if not row.significant:
        return None
    lift = row.abs_lift if row.abs_lift is not None else row.rel_lift
    hib = row.higher_is_better if row.higher_is_better is not None else True
    return None if not lift else ("better" if (lift > 0) == hib else "worse")


def sig_style(row: MetricRow) -> tuple[str, str]:
    """(colour, marker symbol): green diamond better, red x worse, grey circle not significant."""
    d = direction(row)
    if d == "better":
        return SIG_COLOR, "diamond"
    if d == "worse":
        return WORSE_COLOR, "x"
    return NONSIG_COLOR, "circle"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _layout(fig: go.Figure, title: str, height: int = 380, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        title={"text": esc(title), "x": 0.01, "font": {"size": 15}},
        template="plotly_white",
        height=height,
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
        font={"family": FONT, "size": 12},
        legend={"orientation": "h", "y": -0.18},
        **kwargs,
    )
    return fig


def _finite(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:+.{digits}f}%"


def forest_plot(result: AnalysisResult, *, lang: str = "zh") -> go.Figure:
    """Relative lift with its CI for every metric × arm (and arm-vs-arm comparison) row; significance with its
    direction, as the analysis decided (sequential in sequential mode): green diamond significantly better,
    red x significantly worse, grey circle not significant."""
    rows = [r for r in result.metrics if _finite(r.rel_lift, r.rel_ci_low, r.rel_ci_high)]
    labels = [f"{metric_label(r.metric, lang)} · {esc(r.arm)} vs {esc(r.baseline)}" for r in rows]
    fig = go.Figure()
    # One trace per colour: plotly.js takes one colour per error-bar trace (an array is an
    # "Invalid color specifier" and draws the bars black).
    for color, symbol in ((SIG_COLOR, "diamond"), (WORSE_COLOR, "x"), (NONSIG_COLOR, "circle")):
        idx = [i for i, r in enumerate(rows) if sig_style(r) == (color, symbol)]
        if not idx:
            continue
        part = [rows[i] for i in idx]
        fig.add_scatter(
            x=[r.rel_lift for r in part],
            y=[labels[i] for i in idx],
            mode="markers",
            marker={"size": 10, "color": color, "symbol": symbol},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [_gap(r.rel_ci_high, r.rel_lift) for r in part],
                "arrayminus": [_gap(r.rel_lift, r.rel_ci_low) for r in part],
                "color": color,
                "thickness": 2,
                "width": 5,
            },
            customdata=[[_pct(r.rel_ci_low), _pct(r.rel_ci_high), r.p_value_adjusted] for r in part],
            hovertemplate="%{y}<br>%{x:+.2%} [%{customdata[0]}, %{customdata[1]}]<br>adj. p = %{customdata[2]}<extra></extra>",
            showlegend=False,
        )
    fig.update_yaxes(categoryorder="array", categoryarray=labels)
    fig.add_vline(x=0, line_dash="dash", line_color="#444")
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(tickformat="+.0%", title_text=esc(tr("rel_lift", lang)))
    return _layout(fig, tr("forest", lang), height=max(320, 34 * len(rows) + 110))


def _gap(a: float | None, b: float | None) -> float:
    return (a or 0.0) - (b or 0.0)


def srm_figure(observed: Mapping[str, int], expected: Mapping[str, float], *, lang: str = "zh") -> go.Figure:
    """Observed vs expected analysis users per arm."""
    arms = list(observed)
    fig = go.Figure()
    fig.add_bar(name=esc(tr("observed", lang)), x=[esc(a) for a in arms], y=[observed[a] for a in arms], marker_color=COLORS[0])
    if expected:
        fig.add_bar(name=esc(tr("expected", lang)), x=[esc(a) for a in arms], y=[expected.get(a) for a in arms],
                    marker_color="#aab4c0")
    fig.update_layout(barmode="group")
    return _layout(fig, tr("srm", lang), height=300)


def _parse_ts(value: Any, tz: str) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    try:
        return t.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    except OverflowError:  # e.g. 9999-12-31T20:00Z east of UTC: shown as stored, never a crash
        return None


def _band(fig: go.Figure, band: Sequence[tuple[Any, Any, Any]], color: str, arm: str) -> None:
    """A shaded interval band from (x, low, high) points."""
    if band:
        fig.add_scatter(
            x=[b[0] for b in band] + [b[0] for b in reversed(band)],
            y=[b[2] for b in band] + [b[1] for b in reversed(band)],
            fill="toself", fillcolor=color, opacity=0.15, line={"width": 0},
            hoverinfo="skip", showlegend=False, name=esc(arm),
        )


def cumulative_lift(
    history: Sequence[AnalysisResult],
    *,
    metric: str,
    baseline: str,
    timezone: str = "UTC",
    lang: str = "zh",
) -> go.Figure:
    """Relative lift of ``metric`` over time from stored results (each at its ``as_of`` or
    ``computed_at``), with the sequential band when every point has one."""
    series: dict[str, list[tuple[dt.datetime, MetricRow]]] = {}
    for res in history:
        t = _parse_ts(res.time, timezone)
        if t is None:
            continue
        for r in res.metrics:
            if r.metric == metric and r.baseline == baseline and _finite(r.rel_lift):
                series.setdefault(r.arm, []).append((t, r))
    fig = go.Figure()
    sequential = False
    for i, (arm, pts) in enumerate(series.items()):
        pts.sort(key=lambda p: p[0])
        color = COLORS[(i + 1) % len(COLORS)]
        xs = [p[0] for p in pts]
        seq = all(_finite(p[1].seq_rel_ci_low, p[1].seq_rel_ci_high) for p in pts)
        sequential = sequential or seq
        bounds = [(p[1].seq_rel_ci_low, p[1].seq_rel_ci_high) if seq else (p[1].rel_ci_low, p[1].rel_ci_high)
                  for p in pts]
        band = [(x, lo, hi) for x, (lo, hi) in zip(xs, bounds, strict=True) if _finite(lo, hi)]
        _band(fig, band, color, arm)
        fig.add_scatter(x=xs, y=[p[1].rel_lift for p in pts], mode="lines+markers", name=esc(arm),
                        line={"color": color}, hovertemplate="%{x}<br>%{y:+.2%}<extra>" + esc(arm) + "</extra>")
    fig.add_hline(y=0, line_dash="dash", line_color="#444")
    fig.update_yaxes(tickformat="+.0%")
    band_name = "sequential CI" if sequential else "CI"
    title = f"{tr('cumulative', lang)} · {metric_label(metric, lang)} vs {esc(baseline)} ({band_name}, {timezone})"
    return _layout(fig, title, height=360)


def cumulative_by_day(
    points: Sequence[CumulativePoint],
    *,
    timezone: str = "UTC",
    lang: str = "zh",
) -> go.Figure:
    """The analysis' ``cumulative`` block: one point per local day and arm (users first exposed up to
    that day), the sequential band when the points have one, else the fixed-horizon CI; markers
    coloured by significance with its direction."""
    series: dict[str, list[CumulativePoint]] = {}
    for p in points:
        if _finite(p.rel_lift):
            series.setdefault(p.arm, []).append(p)
    fig = go.Figure()
    sequential = any(_finite(p.seq_rel_ci_low, p.seq_rel_ci_high) for p in points)
    for i, (arm, pts) in enumerate(series.items()):
        pts.sort(key=lambda p: p.date)
        color = COLORS[(i + 1) % len(COLORS)]
        xs = [p.date for p in pts]
        band = [(p.date, p.seq_rel_ci_low, p.seq_rel_ci_high) if sequential else (p.date, p.rel_ci_low, p.rel_ci_high)
                for p in pts]
        band = [b for b in band if _finite(b[1], b[2])]
        _band(fig, band, color, arm)
        marker_colors = [{"better": SIG_COLOR, "worse": WORSE_COLOR}.get(p.significance or "", color) for p in pts]
        fig.add_scatter(x=xs, y=[p.rel_lift for p in pts], mode="lines+markers", name=esc(arm),
                        line={"color": color}, marker={"color": marker_colors, "size": 7},
                        hovertemplate="%{x}<br>%{y:+.2%}<extra>" + esc(arm) + "</extra>")
    fig.add_hline(y=0, line_dash="dash", line_color="#444")
    fig.update_yaxes(tickformat="+.0%")
    fig.update_xaxes(type="date", tickformat="%m-%d", dtick=86400000)
    metric = points[0].metric if points else ""
    baseline = points[0].baseline if points else ""
    band_name = tr("seq_ci", lang) if sequential else "CI"
    title = f"{tr('cumulative', lang)} · {metric_label(metric, lang)} vs {esc(baseline)} ({band_name}, {timezone})"
    return _layout(fig, title, height=360)


def daily_trends(
    daily: Sequence[DailyPoint],
    *,
    metric: str,
    timezone: str = "UTC",
    lang: str = "zh",
    extra_flags: Mapping[dt.date, str] | None = None,
) -> go.Figure:
    """Daily value of ``metric`` per arm (dates in the spec's time zone), holidays and promotion days shaded."""
    by_arm: dict[str, list[tuple[dt.date, float]]] = {}
    for r in daily:
        if r.metric != metric or r.value is None or not _finite(r.value):
            continue
        try:
            day = dt.date.fromisoformat(r.date[:10])
        except ValueError:
            continue
        by_arm.setdefault(r.arm, []).append((day, float(r.value)))
    fig = go.Figure()
    for i, (arm, pts) in enumerate(by_arm.items()):
        pts.sort()
        fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=esc(arm),
                        line={"color": COLORS[i % len(COLORS)]})
    days = {p[0] for pts in by_arm.values() for p in pts}
    flags = flag_days(days, lang)
    for day, name in (extra_flags or {}).items():
        if day in days:
            flags[day] = f"{flags[day]} / {name}" if day in flags else name
    for day, name in sorted(flags.items()):
        start = dt.datetime.combine(day, dt.time(0)) - dt.timedelta(hours=12)
        fig.add_vrect(x0=start, x1=start + dt.timedelta(days=1), fillcolor="#f4b400", opacity=0.18, line_width=0,
                      annotation_text=esc(name), annotation_position="top left", annotation_font_size=11)
    fig.update_xaxes(tickformat="%m-%d", dtick=86400000)
    fmt = ".2%" if metric in ("ctr", "cvr", "conversion_rate", "add_to_cart_rate", "refund_rate") else None
    if fmt:
        fig.update_yaxes(tickformat=fmt)
    return _layout(fig, f"{tr('daily', lang)} · {metric_label(metric, lang)} ({timezone})", height=360)


def segment_heatmap(rows: Sequence[BreakdownRow], *, lang: str = "zh", alpha: float = 0.05) -> go.Figure:
    """Relative lift per segment (rows) × metric/arm (columns); ★ marks significance after the family's
    correction (the analysis' ``significant``)."""
    rows = [r for r in rows if _finite(r.rel_lift)]
    ylabels = list(dict.fromkeys(f"{esc(r.dimension)}: {esc(r.value)}" for r in rows))
    xlabels = list(dict.fromkeys(f"{esc(r.metric)} · {esc(r.arm)}" for r in rows))
    z: list[list[float | None]] = [[None] * len(xlabels) for _ in ylabels]
    text: list[list[str]] = [[""] * len(xlabels) for _ in ylabels]
    hover: list[list[str]] = [[""] * len(xlabels) for _ in ylabels]
    for r in rows:
        i = ylabels.index(f"{esc(r.dimension)}: {esc(r.value)}")
        j = xlabels.index(f"{esc(r.metric)} · {esc(r.arm)}")
        star = {"better": "★", "worse": "▼"}.get(direction(r) or "", "")
        z[i][j] = r.rel_lift
        text[i][j] = f"{_pct(r.rel_lift)}{star}"
        hover[i][j] = (f"{_pct(r.rel_ci_low)} … {_pct(r.rel_ci_high)}, "
                       f"adj. p = {r.p_value_adjusted} ({esc(r.family)})")
    bound = max([abs(v) for row in z for v in row if v is not None] or [0.05])
    fig = go.Figure(
        go.Heatmap(
            z=z, x=xlabels, y=ylabels, text=text, texttemplate="%{text}", customdata=hover,
            hovertemplate="%{y} · %{x}<br>%{text}<br>%{customdata}<extra></extra>",
            colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound, colorbar={"tickformat": "+.0%"},
        )
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    title = (f"{tr('segments', lang)} ({tr('rel_lift', lang)}; ★ {tr('sig_better', lang)}, ▼ {tr('sig_worse', lang)}: "
             f"{tr('p_adjusted', lang)} < {alpha:g})")
    return _layout(fig, title, height=max(300, 30 * len(ylabels) + 120))


TEXT_BARS = ("distinct_2_at_n", "self_bleu", "personalization", "unfaithful_rate", "ad_law_violation_rate")


def text_metrics_figure(diversity: Mapping[str, ArmText], *, lang: str = "zh") -> go.Figure:
    """Text diversity and compliance per arm, side by side."""
    values = {arm: v.values() for arm, v in diversity.items()}
    keys = [k for k in TEXT_BARS if any(_finite(v.get(k)) for v in values.values())]
    fig = go.Figure()
    for i, (arm, vals) in enumerate(values.items()):
        fig.add_bar(name=esc(arm), x=keys, y=[vals.get(k) if _finite(vals.get(k)) else None for k in keys],
                    marker_color=COLORS[i % len(COLORS)], texttemplate="%{y:.3f}", textposition="outside")
    fig.update_layout(barmode="group")
    return _layout(fig, tr("diversity", lang), height=340)


def text_feature_figure(features: Sequence[TextFeatureRow], *, metric: str = "ctr", lang: str = "zh") -> go.Figure:
    """``metric`` by text feature level per arm, with user-clustered CIs (associations, not effects)."""
    rows = [r for r in features if r.metric == metric and _finite(r.value)]
    fig = go.Figure()
    arms = list(dict.fromkeys(r.arm for r in rows))
    for i, arm in enumerate(arms):
        pts = [r for r in rows if r.arm == arm]
        fig.add_scatter(
            x=[[esc(r.feature) for r in pts], [esc(r.level) for r in pts]],
            y=[r.value for r in pts], mode="markers", name=esc(arm), marker={"size": 9, "color": COLORS[i % len(COLORS)]},
            error_y={"type": "data", "symmetric": False,
                     "array": [_gap(r.ci_high, r.value) if _finite(r.ci_high) else 0 for r in pts],
                     "arrayminus": [_gap(r.value, r.ci_low) if _finite(r.ci_low) else 0 for r in pts]},
        )
    fig.update_yaxes(tickformat=".1%")
    return _layout(fig, f"{tr('text_features', lang)} · {metric_label(metric, lang)}", height=380)


def power_curve(plan: ArmPlanning, *, mde: float, alpha: float, target_power: float, lang: str = "zh",
                sample_plan: Mapping[str, Any] | None = None) -> go.Figure:
    """Power at the MDE as the sample grows, with the sample reached and the planned sample (both from the
    analysis' planning block) marked: under the plan's assumptions when the result has the plan
    (``sample_plan``, abkit.planning.SamplePlan as a dict), else with the per-user variance of the
    standard error reached (SE shrinking as 1/√n)."""
    n0 = plan.users_per_arm
    need = plan.users_needed or n0
    power_fn: Callable[[float], float]
    if sample_plan:
        power_fn = SamplePlan(**{**sample_plan, "explanation": []}).power_at
    else:
        se = plan.se_rel or 0.0
        variance = se * se * n0 / 2  # per-user variance on the relative scale (baseline 1)

        def power_fn(n: float) -> float:
            return power_at(n, "mean", 1.0, mde, alpha=alpha, variance=variance)
    top = max(n0, need, 1) * 1.6
    ns = [top * k / 60 for k in range(1, 61)]
    ps = [power_fn(n) for n in ns]
    fig = go.Figure(go.Scatter(x=ns, y=ps, mode="lines", name=esc(plan.arm), line={"color": COLORS[0]}))
    fig.add_scatter(x=[n0], y=[plan.power], mode="markers+text", marker={"size": 11, "color": COLORS[1]},
                    text=["—" if plan.power is None else f"{plan.power:.0%}"], textposition="top left", showlegend=False)
    fig.add_hline(y=target_power, line_dash="dot", line_color="#444")
    fig.add_vline(x=need, line_dash="dot", line_color=COLORS[2])
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text=esc(tr("power_axis", lang)))
    fig.update_xaxes(title_text=esc(tr("users_per_arm", lang)))
    return _layout(fig, f"{tr('planning', lang)} · {esc(plan.arm)} (MDE {mde:.1%})", height=320, showlegend=False)
