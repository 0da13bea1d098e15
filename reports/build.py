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
from abkit.messages import render as render_message
from abkit.metrics import METRICS
from abkit.result import AnalysisResult, MetricRow
from abkit.spec import Spec
from reports import figures as F
from reports import html as H
from reports.for_whom import for_whom_section, for_whom_title, interaction_table
from reports.html import Markup, esc, tag
from reports.i18n import (
    action_label,
    check_lang,
    family_label,
    metric_label,
    text_metric_label,
    tr,
    verdict_label,
)
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


def say(messages: Sequence[Any], lang: str, fallback: Sequence[str] = ()) -> list[str]:
    """Decision messages ({code, params, text}) in the report's language; the stored text for a code
    this version does not know; `fallback` (English sentences of older results) when there are none."""
    out = []
    for m in messages:
        try:
            out.append(render_message(m["code"], m.get("params") or {}, lang))  # type: ignore[arg-type]
        except (KeyError, ValueError, TypeError):
            out.append(str(m.get("text", "")))
    return out or list(fallback)


def significance_cell(row: MetricRow, lang: str) -> Markup:
    """✔ better in green, ✘ worse in red, never a tick for a significantly worse result."""
    if row.significance == "worse" or (row.significance is None and row.significant and _worse(row)):
        return Markup(f'<span class="bad">✘ {esc(tr("sig_worse", lang))}</span>')
    if row.significant:
        return Markup(f'<span class="ok">✔ {esc(tr("sig_better", lang))}</span>')
    return esc(tr("sig_no", lang))


def _worse(row: MetricRow) -> bool:
    """Direction of an older result's `significant` row (no `significance` field): from the lift's sign."""
    lift = row.abs_lift if row.abs_lift is not None else row.rel_lift
    hib = row.higher_is_better if row.higher_is_better is not None else True
    return lift is not None and (lift < 0) == hib and lift != 0


def row_warning(row: MetricRow, lang: str) -> str | None:
    """The row's warning in the report's language (the analysis writes English sentences)."""
    if not row.warning and not row.small_sample:
        return None
    if lang == "en":
        return row.warning or tr("warning_small_sample", lang)
    return tr("warning_small_sample" if row.small_sample else "warning_other", lang)


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
    reasons = say(d.messages, lang, d.reasons if lang == "en" else ())
    parts: list[Markup] = [tag("div", head), H.bullets(reasons or [tr("none", lang)])]
    plan = rollout_plan(spec, result)
    steps = say(d.next_step, lang) or next_steps(spec, result, lang)
    if steps:
        parts.append(tag("div", [tag("b", tr("next_steps", lang)), H.bullets(steps)], class_="rollout next-step"))
    if plan is not None:
        parts.append(tag("div", [tag("b", tr("rollout", lang)), tag("ol", [tag("li", s) for s in describe(plan, lang)])],
                         class_="rollout"))
    return tag("div", parts, class_=f"banner {action}", id="decision")


def _verdicts(result: AnalysisResult, lang: str) -> Markup:
    """One card per treatment arm: its verdict badge (harmful red, ship candidate green) and reasons."""
    cards = []
    for v in result.decision.arms:
        facts = []
        if v.planned_users is not None:
            facts.append(f"{tr('reached', lang)} {_count(v.users)} · {tr('planned', lang)} {v.planned_users:,}")
        if v.days_to_go is not None and v.verdict == "keep_running":
            facts.append(f"{tr('days_to_go', lang)} {v.days_to_go}")
        cards.append(tag("div", [
            tag("div", [tag("b", v.arm), " ", tag("span", verdict_label(v.verdict, lang), class_=f"badge {v.verdict}")]),
            tag("div", " · ".join(facts), class_="note") if facts else "",
            H.bullets(say(v.reasons, lang)),
        ], class_=f"verdict-card {v.verdict}", data_arm=v.arm, data_verdict=v.verdict))
    return tag("div", cards, class_="verdicts", id="verdicts")


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
    content.append(_balance(result, lang))
    inter = interaction_table(result, lang)
    if inter is not None:
        content.append(inter)
    if health and health.quarantine:
        content.append(H.table([tr("table", lang), tr("quarantined", lang)],
                               [[k, f"{int(v):,}"] for k, v in health.quarantine.items()]))
    if result.notes:  # English sentences of the analysis: a count in the Chinese report
        content.append(H.bullets(list(result.notes)) if lang == "en" else
                       tag("p", tr("notes_en", lang).format(n=len(result.notes)), class_="note"))
    if observed:
        figs["srm"] = F.srm_figure(observed, expected, lang=lang)
        content.append(H.figure(figs["srm"], "fig-srm"))
    return H.section("health", tr("health", lang), content)


def _balance(result: AnalysisResult, lang: str) -> Markup:
    """Warnings of the randomization checks (SRM within dimension values, pre-period means by arm)."""
    b = result.balance
    if not b:
        return Markup("")
    bad = [tr("balance_srm_bad", lang).format(dim=d, value=r.get("value"), p=fmt_p(r.get("p_value")))
           for d, rows in (b.get("srm_by_dimension") or {}).items() for r in rows if r.get("ok") is False]
    bad += [tr("balance_pre_bad", lang).format(arm=r.get("arm"), cov=r.get("covariate"), p=fmt_p(r.get("p_value")),
                                                t=_stat(r.get("treatment_mean")), c=_stat(r.get("control_mean")))
            for r in b.get("pre_period") or [] if r.get("ok") is False]
    if bad:
        return tag("div", [tag("div", f"⚠ {x}", class_="bad") for x in bad], id="balance")
    return tag("p", tr("balance_ok", lang), class_="ok", id="balance")


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
        warning = row_warning(r, lang)
        notes = [tr(f, lang) for f in flags] + ([warning] if warning else [])
        first = _two_line(metric_label(m, lang), family_label(r.family, lang))
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
            significance_cell(r, lang),
            f"{r.variance_reduction:.1%}" if r.cuped and _num(r.variance_reduction) else "—",
        ]
        body.append(cells)
        sig_class = ("sig-worse" if r.significance == "worse" else "sig") if r.significant else None
        classes.append("flag" if flags or warning else sig_class)
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


def _margin(margin: float | None, higher_is_better: bool | None) -> str:
    """The allowed change: a drop (−) for a higher-is-better metric, a rise (+) for a lower-is-better one."""
    if not _num(margin):
        return "—"
    return f"{'+' if higher_is_better is False else '−'}{margin:.0%}"


def _text_section(spec: Spec, result: AnalysisResult, lang: str, figs: dict[str, Any]) -> Markup:
    content: list[H.Cell] = []
    diversity = result.diversity
    if diversity:
        values = {arm: v.values() for arm, v in diversity.items()}
        keys = [k for k in TEXT_TABLE_KEYS if any(k in v for v in values.values())]
        rows: list[list[H.Cell]] = [[arm, *(_text_cell(v, k, lang) for k in keys)] for arm, v in values.items()]
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
        rows = [[metric_label(g.metric, lang), g.arm, _margin(g.margin, g.higher_is_better),
                 fmt_pct(g.bound), _status_cell(g.status, lang),
                 tag("span", (g.warning or "") if lang == "en" else "", class_="text")]
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
    if result.cumulative:
        figs["cumulative"] = F.cumulative_by_day(result.cumulative, timezone=spec.timezone, lang=lang)
        content.append(tag("p", tr("cumulative_note", lang), class_="note"))
        content.append(H.figure(figs["cumulative"], "fig-cumulative"))
    elif len({p.time for p in points}) >= 2:
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
    planned = result.planned_users_per_arm
    content.append(tag("p", f"{tr('mde', lang)}: {spec.mde:.1%} · {metric_label(spec.primary_metric, lang)} · "
                            f"alpha {spec.alpha:g} · {tr('target_power', lang)} {spec.power:.0%}"
                            + (f" · {tr('planned', lang)} {planned:,}" if _num(planned) else ""),
                   id="planned-users", data_planned=planned))
    plan = result.planning
    if plan is not None and plan.plan and lang in ("zh", "en"):
        content.append(H.bullets(say(plan.plan.get("explanation") or [], lang)))
    if plan is None or not plan.arms:
        content.append(tag("p", tr("absent", lang), class_="note"))
        return H.section("planning", tr("planning", lang), content)
    rows = [[a.arm, f"{a.users_per_arm:,}", "—" if a.power is None else f"{a.power:.0%}", _count(a.users_needed),
             _count(a.users_still_needed), _count(a.days_to_go)] for a in plan.arms]
    content.append(H.table([tr("arm", lang), tr("reached", lang), tr("power_at_mde", lang),
                            tr("users_needed", lang), tr("users_to_go", lang), tr("days_to_go", lang)], rows))
    worst = min((a for a in plan.arms if a.power is not None), key=lambda a: a.power or 0.0, default=None)
    if worst is not None and (worst.se_rel or plan.plan):
        figs["power"] = F.power_curve(worst, mde=plan.mde or spec.mde, alpha=plan.alpha or spec.alpha,
                                      target_power=plan.power or spec.power, lang=lang, sample_plan=plan.plan)
        content.append(H.figure(figs["power"], "fig-power"))
    return H.section("planning", tr("planning", lang), content)


def _hours(td: Any) -> float:
    return float(td.total_seconds() / 3600)


def _method(spec: Spec, result: AnalysisResult, sql: str | None, lang: str) -> Markup:
    seq = spec.sequential
    n_star = result.tuning_n or seq.tuning_n
    if lang == "zh":
        notes = [
            f"随机化单位：用户；分析窗口 [{spec.start}, {spec.end})（{spec.timezone}），只统计本实验窗口内的曝光。",
            f"归因：曝光后 {_hours(spec.click_window)} 小时内的点击、{_hours(spec.order_window)} 小时内的订单；多组用户剔除并计数。",
            "均值与比例：Welch t 检验（Welch–Satterthwaite 自由度）；比率指标（点击率、转化率）：按用户的 delta 方法。",
            f"相对提升 CI：delta 方法，alpha = {spec.alpha:g}，固定样本，未做多重校正。",
            f"CUPED：{'开启' if spec.cuped else '关闭'}，回看 {_hours(spec.cuped_lookback) / 24:g} 天，θ 由两组合并估计。",
            f"多重检验：{spec.correction}（族内：主指标跨实验组；次要指标；每个维度分解各自一族）。",
            "护栏：相对提升的单侧非劣效检验；SRM：χ² 检验，p < 0.001 视为失衡。",
            f"序贯检验：{'开启（高斯混合置信序列，N* = ' + str(n_star) + '）' if seq.enabled else '关闭'}。",
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
            f"Sequential: {'on (Gaussian-mixture confidence sequence, N* = ' + str(n_star) + ')' if seq.enabled else 'off'}.",
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
                    tag("div", f"{spec.key} · {tr('window', lang)} {spec.start} → {spec.end} ({spec.timezone}, "
                        f"{tr('end_exclusive', lang)})"
                        + (f" · {spec.owner}" if spec.owner else ""), class_="meta")]),
        tag("div", f"{tr('as_of', lang)} {_local(result.time, spec.timezone)}", class_="meta",
            title=tr("as_of_note", lang)),
    ], class_="top")
    body: list[H.Cell] = [_banner(spec, result, lang)]
    if result.decision.arms:
        body.append(_verdicts(result, lang))
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
    for_whom = for_whom_section(result, lang, figs)
    if for_whom is not None:
        body.append(for_whom)
    body.append(_text_section(spec, result, lang, figs))
    body.append(_planning(spec, result, lang, figs))
    body.append(_method(spec, result, sql, lang))
    nav = [("decision", tr("decision", lang)), ("health", tr("health", lang)), ("metrics", tr("metrics", lang)),
           ("forest", tr("forest", lang)), ("time", tr("over_time", lang)), ("segments", tr("segments", lang)),
           *([("for_whom", for_whom_title(lang))] if for_whom is not None else []),
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
