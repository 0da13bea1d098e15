"""Render the experiment report: an analysis result in, one self-contained HTML page out.

The report is a function of (result, spec, language): it reads the typed result
(abkit/result.py; its JSON is docs/interface.md, Analysis JSON) and renders it. Every statistical
call — significance, CI/p disagreement, guardrail pass/fail, power — was made by the analysis and is
read from the result, never recomputed here; a block the result lacks shows a short "not in this
analysis result" note. Nothing here reads a database or runs the analysis: `abkit report`
(abkit/cli/report.py) decides where the result comes from.

    html = build_report(spec, result, history=past_results, lang="zh")
    write_report("report.html", spec, result, history=past_results, sql=analysis_sql_text)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from abkit.atomic import atomic_write_text
from abkit.metrics import METRICS
from abkit.result import AnalysisResult, MetricRow
from abkit.spec import Spec
from reports import figures as F
from reports import html as H
from reports.html import Markup, esc, tag
from reports.i18n import action_label, check_lang, metric_label, text_metric_label, tr
from reports.rollout import describe, next_steps, rollout_plan

FAMILY_ORDER = {"primary": 0, "secondary": 1, "guardrail": 2, "comparison": 3}
ACTIONS = ("ship", "keep_running", "stop", "no_decision")


# --- small formatting helpers ------------------------------------------------------------------
def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def fmt_value(metric: str, v: Any) -> str:
    if not _num(v):
        return "—"
    m = METRICS.get(metric)
    if m is not None and m.kind in ("ratio", "proportion"):
        return f"{v:.2%}"
    return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"


def fmt_abs(metric: str, v: Any) -> str:
    if not _num(v):
        return "—"
    m = METRICS.get(metric)
    if m is not None and m.kind in ("ratio", "proportion"):
        return f"{v * 100:+.3f}pp"
    return f"{v:+.3g}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    return f"{v * 100:+.{digits}f}%" if _num(v) else "—"


def fmt_p(v: Any) -> str:
    if not _num(v):
        return "—"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _stat(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return f"{v:.4g}" if _num(v) else "—"


def _ci(lo: Any, hi: Any, f=fmt_pct) -> str:
    return f"[{f(lo)}, {f(hi)}]" if _num(lo) and _num(hi) else ""


def _local(ts: Any, tz: str) -> str:
    if not ts:
        return "—"
    t = F._parse_ts(ts, tz)
    return t.strftime("%Y-%m-%d %H:%M") + f" ({tz})" if t else str(ts)


# --- row flags ---------------------------------------------------------------------------------
def row_flags(row: MetricRow, alpha: float) -> list[str]:
    """Keys of the i18n notes that apply, as the analysis decided them: p/CI disagreement, and
    significance lost to the multiple-testing correction."""
    if row.ci_disagrees:
        return ["flag_disagree"]
    return ["flag_multiplicity"] if row.lost_to_correction(alpha) else []


# --- sections ----------------------------------------------------------------------------------
def _banner(spec: Spec, result: AnalysisResult, lang: str) -> Markup:
    d = result.decision
    action = d.action if d.action in ACTIONS else "no_decision"
    head = [tag("span", action_label(action, lang), class_="action")]
    if d.arm:
        head.append(tag("span", f"{tr('arm', lang)}: {d.arm}", class_="arm"))
    parts: list[Markup] = [tag("div", head), H.bullets(list(d.reasons) or [tr("none", lang)])]
    plan = rollout_plan(spec, result)
    steps = next_steps(spec, result, lang)
    if steps:
        parts.append(tag("div", [tag("b", tr("next_steps", lang)), H.bullets(steps)], class_="rollout"))
    if plan is not None:
        parts.append(tag("div", [tag("b", tr("rollout", lang)), tag("ol", [tag("li", s) for s in describe(plan, lang)])],
                         class_="rollout"))
    return tag("div", parts, class_=f"banner {action}", id="decision")


def _expected_by_arm(result: AnalysisResult) -> dict[str, float]:
    """The SRM's expected users, listed by the analysis in the order of ``users``."""
    arms = list(result.users)
    return dict(zip(arms, result.srm.expected, strict=True)) if len(result.srm.expected) == len(arms) else {}


def _count(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def _health(spec: Spec, result: AnalysisResult, lang: str, figs: dict[str, Any]) -> Markup:
    srm = result.srm
    health = result.health
    srm_txt = (tr("srm_ok", lang) if srm.ok else tr("srm_bad", lang)) if srm.ok is not None else tr("unknown", lang)
    kv = [
        (tr("srm", lang), Markup(f'<span class="{"ok" if srm.ok else "bad"}">{esc(srm_txt)}</span> p = {esc(fmt_p(srm.p_value))}')),
        (tr("excluded_multi_arm", lang), esc(_count(result.excluded_multi_arm_users))),
        (tr("unknown_arm_exposures", lang), esc(_count(result.unknown_arm_exposures))),
        (tr("quarantined", lang), esc(_count(health.quarantined) if health else "—")),
        (tr("latest_ingest", lang), esc(_local(health.latest_ingest if health else None, spec.timezone))),
        (tr("latest_exposure", lang), esc(_local(health.latest_exposure if health else None, spec.timezone))),
    ]
    grid = tag("div", [tag("div", [tag("span", k, class_="note"), tag("b", v)]) for k, v in kv], class_="kv")
    observed = result.users
    expected = _expected_by_arm(result)
    before = result.users_before_exclusion
    weights = {a.name: a.weight for a in spec.arms}
    rows = [[a, f"{weights[a]:.0%}" if a in weights else "—", f"{observed[a]:,}",
             f"{expected[a]:,.0f}" if _num(expected.get(a)) else "—",
             f"{before[a]:,}" if _num(before.get(a)) else "—"] for a in observed]
    content = [grid, H.table([tr("arm", lang), tr("weight", lang), tr("observed", lang), tr("expected", lang),
                              tr("before_exclusion", lang)], rows)]
    if health and health.quarantine:
        content.append(H.table([tr("table", lang), tr("quarantined", lang)],
                               [[k, f"{int(v):,}"] for k, v in health.quarantine.items()]))
    if result.notes:
        content.append(H.bullets(list(result.notes)))
    if observed:
        figs["srm"] = F.srm_figure(observed, expected, lang=lang)
        content.append(H.figure(figs["srm"], "fig-srm"))
    return H.section("health", tr("health", lang), content)


def _sorted_rows(result: AnalysisResult) -> list[MetricRow]:
    return sorted(result.metrics, key=lambda r: (FAMILY_ORDER.get(r.family, 9), r.baseline != result.control))


def _two_line(main: str, sub: str) -> Markup:
    return Markup(f"{esc(main)}<br><small>{esc(sub)}</small>") if sub else esc(main)


def _metric_table(result: AnalysisResult, lang: str) -> Markup:
    rows = _sorted_rows(result)
    has_seq = any(_num(r.seq_rel_ci_low) for r in rows)
    headers = [tr("metric", lang), f"{tr('arm', lang)} vs {tr('baseline', lang)}", tr("control_value", lang),
               tr("treatment_value", lang), tr("abs_lift", lang), tr("rel_lift", lang)]
    headers += [tr("seq_ci", lang)] if has_seq else []
    headers += [tr("p_value", lang), tr("p_adjusted", lang), tr("significant", lang), tr("variance_reduction", lang)]
    body, classes = [], []
    for r in rows:
        m = r.metric
        flags = row_flags(r, result.alpha)
        notes = [tr(f, lang) for f in flags] + ([r.warning] if r.warning else [])
        first = _two_line(metric_label(m, lang), r.family)
        if notes:
            joined = "；".join(notes) if lang == "zh" else "; ".join(notes)
            first = Markup(first + tag("div", f"⚠ {joined}", class_="warn note-cell"))
        cells: list[H.Cell] = [
            first,
            _two_line(r.arm, f"vs {r.baseline}"),
            fmt_value(m, r.control_value), fmt_value(m, r.treatment_value),
            _two_line(fmt_abs(m, r.abs_lift), _ci(r.abs_ci_low, r.abs_ci_high, lambda v, m=m: fmt_abs(m, v))),
            _two_line(fmt_pct(r.rel_lift, 2), _ci(r.rel_ci_low, r.rel_ci_high, lambda v: fmt_pct(v, 2))),
        ]
        if has_seq:
            cells.append(_two_line(_ci(r.seq_rel_ci_low, r.seq_rel_ci_high) or "—",
                                   f"p = {fmt_p(r.seq_p_value_adjusted)}" if _num(r.seq_p_value_adjusted) else ""))
        cells += [
            fmt_p(r.p_value), fmt_p(r.p_value_adjusted),
            Markup(f'<span class="ok">✔ {esc(tr("sig_yes", lang))}</span>') if r.significant else tr("sig_no", lang),
            f"{r.variance_reduction:.1%}" if r.cuped and _num(r.variance_reduction) else "—",
        ]
        body.append(cells)
        classes.append("flag" if flags or r.warning else ("sig" if r.significant else None))
    return H.table(headers, body, row_classes=classes)


def _status_cell(status: str, lang: str) -> Markup:
    cls = {"pass": "ok", "fail": "bad"}.get(status, "warn")
    return Markup(f'<span class="{cls}">{esc(tr(status, lang))}</span>')


TEXT_TABLE_KEYS = ("texts", "distinct_1", "distinct_2", "distinct_2_at_n", "sample_n", "self_bleu", "personalization",
                   "unfaithful_rate", "unsupported_rate", "subjective_rate", "ad_law_violation_rate", "mean_length")
_FAITHFULNESS_KEYS = {"unfaithful_rate", "unsupported_rate", "subjective_rate", "attribute_coverage"}


def _text_na_reason(values: Mapping[str, Any], key: str) -> str:
    """Why a text metric has no value for an arm (the key of a ``text_na.*`` label)."""
    if not values.get("texts"):
        return "no_texts"
    if key in _FAITHFULNESS_KEYS and values.get("pairs") and values.get("items_missing") == values.get("pairs"):
        return "no_catalog"
    if key == "self_bleu":
        return "self_bleu_skipped"
    if key == "personalization":
        return "no_segments"
    if key == "attribute_coverage":
        return "no_attributes"
    return "too_short"


def _text_cell(values: Mapping[str, Any], key: str, lang: str) -> H.Cell:
    """The value, or "—" with the reason it does not apply (never a misleading 0.000)."""
    value = values.get(key)
    if value is not None:
        return _stat(value)
    reason = tr(f"text_na.{_text_na_reason(values, key)}", lang)
    return tag("span", [tr("text_na", lang), " ", tag("small", f"({reason})")], title=reason, class_="na")


def _text_section(spec: Spec, result: AnalysisResult, lang: str, figs: dict[str, Any]) -> Markup:
    content: list[H.Cell] = []
    diversity = result.diversity
    if diversity:
        values = {arm: v.values() for arm, v in diversity.items()}
        keys = [k for k in TEXT_TABLE_KEYS if any(k in v for v in values.values())]
        rows = [[arm] + [_text_cell(v, k, lang) for k in keys] for arm, v in values.items()]
        content.append(H.table([tr("arm", lang), *(text_metric_label(k, lang) for k in keys)], rows))
        figs["text_metrics"] = F.text_metrics_figure(diversity, lang=lang)
        content.append(H.figure(figs["text_metrics"], "fig-text-metrics"))
    else:
        content.append(tag("p", tr("absent", lang), class_="note"))
    content.append(tag("h3", tr("text_guardrails", lang)))
    if result.text_guardrails:
        rows = [[g.arm, g.rule, _stat(g.value), _status_cell(g.status, lang)] for g in result.text_guardrails]
        content.append(H.table([tr("arm", lang), tr("rule", lang), tr("value", lang), tr("status", lang)], rows,
                               class_="grid left"))
    elif spec.text_guardrails:
        content.append(H.bullets([f"{g.metric} {g.op} {g.value}" for g in spec.text_guardrails] + [tr("absent", lang)]))
    else:
        content.append(tag("p", tr("none", lang), class_="note"))
    content.append(tag("h3", tr("guardrails", lang)))
    if result.guardrails:
        rows = [[metric_label(g.metric, lang), g.arm, f"−{g.margin:.0%}" if _num(g.margin) else "—",
                 fmt_pct(g.bound), _status_cell(g.status, lang), tag("span", g.warning or "", class_="text")]
                for g in result.guardrails]
        content.append(H.table([tr("metric", lang), tr("arm", lang), tr("margin", lang), tr("bound", lang),
                                tr("status", lang), tr("note", lang)], rows, class_="grid left"))
    elif spec.guardrails:
        content.append(H.bullets([f"{g.metric} (−{g.margin:.0%})" for g in spec.guardrails] + [tr("absent", lang)]))
    else:
        content.append(tag("p", tr("none", lang), class_="note"))
    content.append(tag("h3", tr("text_features", lang)))
    if result.text_features:
        for metric in dict.fromkeys(f.metric for f in result.text_features):
            figs[f"text_features_{metric}"] = F.text_feature_figure(result.text_features, metric=metric, lang=lang)
            content.append(H.figure(figs[f"text_features_{metric}"], f"fig-text-features-{metric}"))
    else:
        content.append(tag("p", tr("absent", lang), class_="note"))
    content.append(tag("h3", tr("samples", lang)))
    if result.samples:
        ordered = sorted(result.samples, key=lambda s: (s.arm, s.segment or ""))
        rows = [[s.arm, s.segment or "—", s.item_id or "—", tag("span", s.text, class_="text")] for s in ordered]
        content.append(H.table([tr("arm", lang), tr("segment", lang), tr("item", lang), tr("reason_text", lang)], rows,
                               class_="grid left"))
    else:
        content.append(tag("p", tr("absent", lang), class_="note"))
    return H.section("text", tr("text", lang), content)


def _over_time(spec: Spec, result: AnalysisResult, history: Sequence[AnalysisResult], lang: str,
               figs: dict[str, Any]) -> Markup:
    content: list[H.Cell] = []
    points = [*history, result] if result.time else list(history)
    control = result.control or spec.control_arm
    if len({p.time for p in points}) >= 2:
        figs["cumulative"] = F.cumulative_lift(points, metric=spec.primary_metric, baseline=control,
                                               timezone=spec.timezone, lang=lang)
        content.append(H.figure(figs["cumulative"], "fig-cumulative"))
    else:
        content.append(tag("p", f"{tr('cumulative', lang)}: {tr('absent', lang)}", class_="note"))
    metrics = list(dict.fromkeys(r.metric for r in result.daily))
    metrics.sort(key=lambda m: m != spec.primary_metric)
    for m in metrics:
        figs[f"daily_{m}"] = F.daily_trends(result.daily, metric=m, timezone=spec.timezone, lang=lang)
        content.append(H.figure(figs[f"daily_{m}"], f"fig-daily-{m}"))
    if not metrics:
        content.append(tag("p", f"{tr('daily', lang)}: {tr('absent', lang)}", class_="note"))
    return H.section("time", tr("over_time", lang), content)


def _planning(spec: Spec, result: AnalysisResult, lang: str, figs: dict[str, Any]) -> Markup:
    content: list[H.Cell] = [tag("p", tr("planning_note", lang), class_="note")]
    if spec.mde is None:
        content.append(tag("p", tr("no_mde", lang)))
        return H.section("planning", tr("planning", lang), content)
    planned = result.planned_users_per_arm or spec.planned_users_per_arm
    content.append(tag("p", f"{tr('mde', lang)}: {spec.mde:.1%} · {metric_label(spec.primary_metric, lang)} · "
                            f"alpha {spec.alpha:g} · power {spec.power:.0%}"
                            + (f" · planned {planned:,}/arm" if _num(planned) else "")))
    if result.planned_users_source:
        content.append(tag("p", f"planned: {result.planned_users_source}", class_="note"))
    plan = result.planning
    if plan is None or not plan.arms:
        content.append(tag("p", tr("absent", lang), class_="note"))
        return H.section("planning", tr("planning", lang), content)
    rows = [[a.arm, f"{a.users_per_arm:,}", f"{a.power:.0%}", f"{a.users_needed:,}", f"{a.users_still_needed:,}"]
            for a in plan.arms]
    content.append(H.table([tr("arm", lang), tr("users_per_arm", lang), tr("power_at_mde", lang),
                            tr("users_needed", lang), tr("users_still_needed", lang)], rows))
    worst = min(plan.arms, key=lambda a: a.power)
    figs["power"] = F.power_curve(worst, mde=plan.mde or spec.mde, alpha=plan.alpha or spec.alpha,
                                  target_power=plan.power or spec.power, lang=lang)
    content.append(H.figure(figs["power"], "fig-power"))
    return H.section("planning", tr("planning", lang), content)


def _method(spec: Spec, sql: str | None, lang: str) -> Markup:
    seq = spec.sequential
    if lang == "zh":
        notes = [
            f"随机化单位：用户；分析窗口 [{spec.start}, {spec.end})（{spec.timezone}），只统计本实验窗口内的曝光。",
            f"归因：曝光后 {spec.click_window} 内的点击、{spec.order_window} 内的订单；多组用户剔除并计数。",
            "均值与比例：Welch t 检验（Welch–Satterthwaite 自由度）；比率指标（点击率、转化率）：按用户的 delta 方法。",
            f"相对提升 CI：delta 方法，alpha = {spec.alpha:g}，固定样本，未做多重校正。",
            f"CUPED：{'开启' if spec.cuped else '关闭'}，回看 {spec.cuped_lookback}，θ 由两组合并估计。",
            f"多重检验：{spec.correction}（族内：主指标跨实验组；次要指标；每个维度分解各自一族）。",
            "护栏：相对提升的单侧非劣效检验；SRM：χ² 检验，p < 0.001 视为失衡。",
            f"序贯检验：{'开启（高斯混合置信序列，N* = ' + str(seq.tuning_n) + '）' if seq.enabled else '关闭'}。",
        ]
    else:
        notes = [
            f"Unit: user; window [{spec.start}, {spec.end}) in {spec.timezone}; only this experiment's exposures in the window count.",
            f"Attribution: clicks within {spec.click_window}, orders within {spec.order_window} of an exposure; multi-arm users excluded and counted.",
            "Means and proportions: Welch's t (Welch–Satterthwaite df); ratio metrics (ctr, cvr): delta method over users.",
            f"Relative CI: delta method at alpha = {spec.alpha:g}, fixed horizon, not adjusted for multiplicity.",
            f"CUPED: {'on' if spec.cuped else 'off'}, lookback {spec.cuped_lookback}, θ pooled over the two arms compared.",
            f"Multiple testing: {spec.correction} within families (primary across arms; secondary; each breakdown).",
            "Guardrails: one-sided non-inferiority of the relative lift; SRM: χ², p < 0.001 is a mismatch.",
            f"Sequential: {'on (Gaussian-mixture confidence sequence, N* = ' + str(seq.tuning_n) + ')' if seq.enabled else 'off'}.",
        ]
    sql_parts = [tag("pre", sql)] if sql else [tag("p", tr("absent", lang), class_="note")]
    return H.section("method", tr("method", lang), [
        H.details(tr("method_notes", lang), H.bullets(notes)),
        H.details(tr("sql", lang), H.join(sql_parts)),
    ])


# --- public API --------------------------------------------------------------------------------
def render(spec: Spec, result: AnalysisResult, *, history: Sequence[AnalysisResult] = (), lang: str = "zh",
           sql: str | None = None) -> tuple[str, dict[str, Any]]:
    """The page and the plotly figures in it (by name), e.g. for a PNG export. ``history``: past
    results of the experiment (the cumulative-lift figure); ``sql``: the analysis SQL for the appendix."""
    lang = check_lang(lang)
    figs: dict[str, Any] = {}
    title = spec.name or spec.key
    header = tag("header", [
        tag("div", [tag("h1", f"{tr('title', lang)} · {title}"),
                    tag("div", f"{spec.key} · {tr('window', lang)} {spec.start} → {spec.end} ({spec.timezone}, end exclusive)"
                        + (f" · {spec.owner}" if spec.owner else ""), class_="meta")]),
        tag("div", f"{tr('as_of', lang)} {_local(result.time, spec.timezone)}", class_="meta"),
    ], class_="top")
    body: list[H.Cell] = [_banner(spec, result, lang)]
    if spec.hypothesis:
        body.append(tag("p", spec.hypothesis, class_="note"))
    body.append(_health(spec, result, lang, figs))
    body.append(H.section("metrics", tr("metrics", lang), [_metric_table(result, lang)]))
    figs["forest"] = F.forest_plot(result, lang=lang)
    body.append(H.section("forest", tr("forest", lang), [H.figure(figs["forest"], "fig-forest")]))
    body.append(_over_time(spec, result, history, lang, figs))
    breakdown_rows = [r for rows in result.breakdowns.values() for r in rows]
    if breakdown_rows:
        figs["segments"] = F.segment_heatmap(breakdown_rows, lang=lang, alpha=result.alpha)
        seg_content: list[H.Cell] = [H.figure(figs["segments"], "fig-segments")]
    else:
        seg_content = [tag("p", tr("absent", lang), class_="note")]
    body.append(H.section("segments", tr("segments", lang), seg_content))
    body.append(_text_section(spec, result, lang, figs))
    body.append(_planning(spec, result, lang, figs))
    body.append(_method(spec, sql, lang))
    nav = [("decision", tr("decision", lang)), ("health", tr("health", lang)), ("metrics", tr("metrics", lang)),
           ("forest", tr("forest", lang)), ("time", tr("over_time", lang)), ("segments", tr("segments", lang)),
           ("text", tr("text", lang)), ("planning", tr("planning", lang)), ("method", tr("method", lang))]
    page = H.page(title=f"{tr('title', lang)} · {title}", lang=lang, header=header, nav=nav, body=body)
    return page, figs


def build_report(spec: Spec, result: AnalysisResult, *, history: Sequence[AnalysisResult] = (), lang: str = "zh",
                 sql: str | None = None) -> str:
    """The report as one self-contained HTML string."""
    return render(spec, result, history=history, lang=lang, sql=sql)[0]


def write_report(path: str | Path, spec: Spec, result: AnalysisResult, *, history: Sequence[AnalysisResult] = (),
                 lang: str = "zh", sql: str | None = None, png_dir: str | Path | None = None) -> Path:
    """Write the report (and, with ``png_dir``, PNGs of its figures); returns the HTML path."""
    page, figs = render(spec, result, history=history, lang=lang, sql=sql)
    path = atomic_write_text(path, page)  # a full disk keeps the previous report, never a truncated one
    if png_dir is not None:
        from reports.png import export_png

        export_png(figs, png_dir)
    return path
