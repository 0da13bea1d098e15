"""Build the experiment report: an analysis result (docs/interface.md, Analysis JSON) in, one self-contained HTML page out.

    html = build_report(spec, result, history=past_results, extras={"health": {...}}, lang="zh")
    write_report("report.html", spec, result, history=past_results)

Input blocks. Required: the docs/interface.md, Analysis JSON keys. Everything below is optional; a missing block
shows a short "not in this analysis result" note. Each may sit in the result or in ``extras``
(``extras`` wins), so the analysis can grow into them:

- ``srm``: ``{"p_value", "ok", "chi2"?, "expected": [per arm, in spec order] or {arm: users}}``;
  observed counts are ``users``; ``users_before_exclusion`` / ``unknown_arm_exposures`` /
  ``notes`` (top level) go to the health section.
- metrics rows may add ``abs_ci_low/high``, ``seq_rel_ci_low/high``, ``seq_p_value(_adjusted)``.
- ``guardrails``: ``[{"metric", "arm", "margin", "bound", "non_inferior", "shown_worse", "warning"}]``
  (or ``"status": "pass|fail|inconclusive"``; without the block, status is derived from the
  metric rows' two-sided relative CI against ``-margin``).
- ``text_guardrails``: ``[{"arm", "rule", "value" (observed), "passed" (null = not evaluated)}]``
- ``planned_users_per_arm``, ``planned_users_source``: shown in the planning section.
- ``breakdowns``: ``{dimension: [rows]}`` (or a flat list) from ``abkit analyze --dimension NAME``:
  metric-row fields plus ``"dimension"`` and ``"value"``, ``family`` naming the correction family.
- ``daily``: ``[{"date": "YYYY-MM-DD" (a day in the spec's timezone), "arm", "metric", "value", ...}]``
- ``promotion_days``: ``{"YYYY-MM-DD": "name"}`` flagged on daily trends besides holidays/festivals.
- ``text_features``: ``[{"arm", "feature", "level", "metric": "ctr|cvr", "value", "ci_low", "ci_high", "exposures"}]``
- ``samples``: ``[{"arm", "segment" (persona or null), "item_id", "text"}]``
- ``health``: ``{"quarantine": {table: rows}, "latest_ingested_at": {table: ts}, "latest_exposure": ts}``
- ``planning``: ``{"power_at_mde", "users_per_arm_needed", ...}`` shown verbatim when present.
- ``sql``: a string, a ``{name: sql}`` mapping, or a list of strings.
- ``as_of`` / ``computed_at``: ISO timestamps (UTC). History entries are past results with them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from abkit.metrics import METRICS
from abkit.spec import Spec
from reports import figures as F
from reports import html as H
from reports.figures import significant
from reports.html import Markup, esc, tag
from reports.i18n import action_label, check_lang, metric_label, tr
from reports.planning import planning_rows
from reports.rollout import describe, next_steps, rollout_plan

FAMILY_ORDER = {"primary": 0, "secondary": 1, "guardrail": 2, "comparison": 3}


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


def _block(name: str, result: Mapping[str, Any], extras: Mapping[str, Any]) -> Any:
    if extras.get(name) is not None:
        return extras[name]
    return result.get(name)


def _per_arm(value: Any, spec: Spec) -> dict[str, Any]:
    """A per-arm value given as {arm: v} or as a list in the spec's arm order."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == len(spec.arms):
        return dict(zip(spec.arm_names, value, strict=True))
    return {}


def _local(ts: Any, tz: str) -> str:
    if not ts:
        return "—"
    t = F._parse_ts(ts, tz)
    return t.strftime("%Y-%m-%d %H:%M") + f" ({tz})" if t else str(ts)


# --- row flags ---------------------------------------------------------------------------------
def row_flags(row: Mapping[str, Any], alpha: float) -> list[str]:
    """Keys of the i18n notes that apply: p/CI disagreement, and significance lost to correction."""
    out = []
    p, lo, hi = row.get("p_value"), row.get("rel_ci_low"), row.get("rel_ci_high")
    if _num(p) and _num(lo) and _num(hi) and (p < alpha) != (lo > 0 or hi < 0):
        out.append("flag_disagree")
    elif _num(p) and p < alpha and not significant(row, alpha) and _num(row.get("p_value_adjusted")):
        out.append("flag_multiplicity")
    return out


# --- sections ----------------------------------------------------------------------------------
def _banner(spec: Spec, result: Mapping[str, Any], lang: str) -> Markup:
    d = result.get("decision") or {}
    action = d.get("action") if d.get("action") in ("ship", "keep_running", "stop", "no_decision") else "no_decision"
    head = [tag("span", action_label(action, lang), class_="action")]
    if d.get("arm"):
        head.append(tag("span", f"{tr('arm', lang)}: {d['arm']}", class_="arm"))
    parts: list[Markup] = [tag("div", head), H.bullets(d.get("reasons") or [tr("none", lang)])]
    plan = rollout_plan(spec, result)
    steps = next_steps(spec, result, lang)
    if steps:
        parts.append(tag("div", [tag("b", tr("next_steps", lang)), H.bullets(steps)], class_="rollout"))
    if plan is not None:
        parts.append(tag("div", [tag("b", tr("rollout", lang)), tag("ol", [tag("li", s) for s in describe(plan, lang)])],
                         class_="rollout"))
    return tag("div", parts, class_=f"banner {action}", id="decision")


def _health(spec: Spec, result: Mapping[str, Any], extras: Mapping[str, Any], lang: str, figs: dict) -> Markup:
    srm = result.get("srm") or {}
    health = _block("health", result, extras) or {}
    ok = srm.get("ok")
    srm_txt = (tr("srm_ok", lang) if ok else tr("srm_bad", lang)) if ok is not None else tr("unknown", lang)
    quarantine = health.get("quarantine")
    q_total = sum(int(v) for v in quarantine.values()) if isinstance(quarantine, Mapping) else None
    ingest = health.get("latest_ingested_at") or {}
    latest_ingest = max((str(v) for v in ingest.values() if v), default=None) if isinstance(ingest, Mapping) else ingest
    kv = [
        (tr("srm", lang), Markup(f'<span class="{"ok" if ok else "bad"}">{esc(srm_txt)}</span> p = {esc(fmt_p(srm.get("p_value")))}')),
        (tr("excluded_multi_arm", lang), esc(result.get("excluded_multi_arm_users", "—"))),
        (tr("unknown_arm_exposures", lang), esc(result.get("unknown_arm_exposures", srm.get("unknown_arm_exposures", "—")))),
        (tr("quarantined", lang), esc(q_total if q_total is not None else "—")),
        (tr("latest_ingest", lang), esc(_local(latest_ingest, spec.timezone))),
        (tr("latest_exposure", lang), esc(_local(health.get("latest_exposure"), spec.timezone))),
    ]
    grid = tag("div", [tag("div", [tag("span", k, class_="note"), tag("b", v)]) for k, v in kv], class_="kv")
    observed = srm.get("observed") or result.get("users") or {}
    expected = _per_arm(srm.get("expected"), spec)
    before = result.get("users_before_exclusion") or srm.get("users_before_exclusion") or {}
    weights = {a.name: a.weight for a in spec.arms}
    rows = [[a, f"{weights[a]:.0%}" if a in weights else "—", f"{observed.get(a, 0):,}",
             f"{expected[a]:,.0f}" if _num(expected.get(a)) else "—",
             f"{before[a]:,}" if _num(before.get(a)) else "—"] for a in observed]
    content = [grid, H.table([tr("arm", lang), tr("weight", lang), tr("observed", lang), tr("expected", lang),
                              tr("before_exclusion", lang)], rows)]
    if isinstance(quarantine, Mapping) and quarantine:
        content.append(H.table([tr("table", lang), tr("quarantined", lang)], [[k, f"{int(v):,}"] for k, v in quarantine.items()]))
    if result.get("notes"):
        content.append(H.bullets(result["notes"]))
    if observed:
        figs["srm"] = F.srm_figure({**result, "srm": {**srm, "observed": observed, "expected": expected}}, lang=lang)
        content.append(H.figure(figs["srm"], "fig-srm"))
    return H.section("health", tr("health", lang), content)


def _sorted_rows(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = list(result.get("metrics", []))
    return sorted(rows, key=lambda r: (FAMILY_ORDER.get(str(r.get("family")), 9), r.get("baseline") != result.get("control")))


def _two_line(main: str, sub: str) -> Markup:
    return Markup(f"{esc(main)}<br><small>{esc(sub)}</small>") if sub else esc(main)


def _metric_table(result: Mapping[str, Any], alpha: float, lang: str) -> Markup:
    rows = _sorted_rows(result)
    has_seq = any(_num(r.get("seq_rel_ci_low")) for r in rows)
    headers = [tr("metric", lang), f"{tr('arm', lang)} vs {tr('baseline', lang)}", tr("control_value", lang),
               tr("treatment_value", lang), tr("abs_lift", lang), tr("rel_lift", lang)]
    headers += [tr("seq_ci", lang)] if has_seq else []
    headers += [tr("p_value", lang), tr("p_adjusted", lang), tr("significant", lang), tr("variance_reduction", lang)]
    body, classes = [], []
    for r in rows:
        m = str(r.get("metric"))
        sig = significant(r, alpha)
        flags = row_flags(r, alpha)
        notes = [tr(f, lang) for f in flags] + ([str(r["warning"])] if r.get("warning") else [])
        first = _two_line(metric_label(m, lang), str(r.get("family") or ""))
        if notes:
            joined = "；".join(notes) if lang == "zh" else "; ".join(notes)
            first = Markup(first + tag("div", f"⚠ {joined}", class_="warn note-cell"))
        cells: list[H.Cell] = [
            first,
            _two_line(str(r.get("arm")), f"vs {r.get('baseline', result.get('control'))}"),
            fmt_value(m, r.get("control_value")), fmt_value(m, r.get("treatment_value")),
            _two_line(fmt_abs(m, r.get("abs_lift")), _ci(r.get("abs_ci_low"), r.get("abs_ci_high"), lambda v, m=m: fmt_abs(m, v))),
            _two_line(fmt_pct(r.get("rel_lift"), 2), _ci(r.get("rel_ci_low"), r.get("rel_ci_high"), lambda v: fmt_pct(v, 2))),
        ]
        if has_seq:
            seq_p = r.get("seq_p_value_adjusted", r.get("seq_p_value"))
            cells.append(_two_line(_ci(r.get("seq_rel_ci_low"), r.get("seq_rel_ci_high")) or "—",
                                   f"p = {fmt_p(seq_p)}" if _num(seq_p) else ""))
        vr = r.get("variance_reduction")
        cells += [
            fmt_p(r.get("p_value")), fmt_p(r.get("p_value_adjusted")),
            Markup(f'<span class="ok">✔ {esc(tr("sig_yes", lang))}</span>') if sig else tr("sig_no", lang),
            (f"{vr:.1%}" if r.get("cuped") else "—") if _num(vr) else "—",
        ]
        body.append(cells)
        classes.append("flag" if flags or r.get("warning") else ("sig" if sig else None))
    return H.table(headers, body, row_classes=classes)


def _guardrail_rows(spec: Spec, result: Mapping[str, Any], extras: Mapping[str, Any]) -> list[dict[str, Any]]:
    given = _block("guardrails", result, extras)
    if given:
        return list(given)
    out = []
    for g in spec.guardrails:
        for r in result.get("metrics", []):
            if r.get("metric") == g.metric and r.get("baseline", result.get("control")) == result.get("control"):
                lo, hi = r.get("rel_ci_low"), r.get("rel_ci_high")
                status = "inconclusive"
                if _num(lo) and lo > -g.margin:
                    status = "pass"
                elif _num(hi) and hi < -g.margin:
                    status = "fail"
                out.append({"metric": g.metric, "arm": r.get("arm"), "margin": g.margin, "rel_ci_low": lo, "status": status})
    return out


def _rule(g: Mapping[str, Any]) -> str:
    """Text guardrail rule: the analysis writes ``rule`` ("unfaithful_rate <= 0.02"); else metric/op/value."""
    if g.get("rule"):
        return str(g["rule"])
    return f"{g.get('metric', '')} {g.get('op', '')} {g.get('value', '')}".strip()


def _guard_status(g: Mapping[str, Any]) -> str:
    if g.get("status"):
        return str(g["status"])
    if g.get("shown_worse"):
        return "fail"
    if g.get("non_inferior"):
        return "pass"
    return "inconclusive"


def _status_cell(status: Any, lang: str) -> Markup:
    s = {True: "pass", False: "fail"}.get(status, status) if isinstance(status, bool) else str(status or "inconclusive")
    cls = {"pass": "ok", "fail": "bad"}.get(s, "warn")
    return Markup(f'<span class="{cls}">{esc(tr(s, lang))}</span>')


def _text_section(spec: Spec, result: Mapping[str, Any], extras: Mapping[str, Any], lang: str, figs: dict) -> Markup:
    content: list[H.Cell] = []
    diversity = result.get("diversity") or {}
    if diversity:
        keys = ["texts", "distinct_1", "distinct_2", "distinct_2_at_n", "sample_n", "self_bleu", "personalization",
                "unfaithful_rate", "ad_law_violation_rate", "mean_length"]
        keys = [k for k in keys if any(k in v for v in diversity.values())]
        rows = [[arm] + [_stat(v.get(k)) for k in keys] for arm, v in diversity.items()]
        content.append(H.table([tr("arm", lang), *keys], rows))
        figs["text_metrics"] = F.text_metrics_figure(diversity, lang=lang)
        content.append(H.figure(figs["text_metrics"], "fig-text-metrics"))
    else:
        content.append(tag("p", tr("absent", lang), class_="note"))
    tg = _block("text_guardrails", result, extras)
    content.append(tag("h3", tr("text_guardrails", lang)))
    if tg:
        rows = [[g.get("arm"), _rule(g), _stat(g.get("threshold")), _stat(g.get("observed", g.get("value"))),
                 _status_cell(g.get("passed", g.get("status")), lang)] for g in tg]
        content.append(H.table([tr("arm", lang), tr("rule", lang), tr("threshold", lang), tr("value", lang),
                                tr("status", lang)], rows, class_="grid left"))
    elif spec.text_guardrails:
        content.append(H.bullets([f"{g.metric} {g.op} {g.value}" for g in spec.text_guardrails] + [tr("absent", lang)]))
    else:
        content.append(tag("p", tr("none", lang), class_="note"))
    guard = _guardrail_rows(spec, result, extras)
    content.append(tag("h3", tr("guardrails", lang)))
    if guard:
        rows = [[metric_label(str(g.get("metric")), lang), g.get("arm"), f"−{g['margin']:.0%}" if _num(g.get("margin")) else "—",
                 fmt_pct(g.get("bound", g.get("rel_ci_low"))), _status_cell(_guard_status(g), lang),
                 tag("span", g.get("warning") or "", class_="text")] for g in guard]
        content.append(H.table([tr("metric", lang), tr("arm", lang), tr("margin", lang), tr("bound", lang), tr("status", lang),
                                tr("note", lang)], rows,
                               class_="grid left"))
    else:
        content.append(tag("p", tr("none", lang), class_="note"))
    feats = _block("text_features", result, extras)
    content.append(tag("h3", tr("text_features", lang)))
    if feats:
        for metric in dict.fromkeys(str(f.get("metric")) for f in feats):
            figs[f"text_features_{metric}"] = F.text_feature_figure(feats, metric=metric, lang=lang)
            content.append(H.figure(figs[f"text_features_{metric}"], f"fig-text-features-{metric}"))
    else:
        content.append(tag("p", tr("absent", lang), class_="note"))
    samples = _block("samples", result, extras)
    content.append(tag("h3", tr("samples", lang)))
    if samples:
        ordered = sorted(samples, key=lambda s: (str(s.get("arm")), str(s.get("segment") or "")))
        rows = [[s.get("arm"), s.get("segment") or "—", s.get("item_id") or "—", tag("span", s.get("text"), class_="text")]
                for s in ordered]
        content.append(H.table([tr("arm", lang), tr("segment", lang), tr("item", lang), tr("reason_text", lang)], rows,
                               class_="grid left"))
    else:
        content.append(tag("p", tr("absent", lang), class_="note"))
    return H.section("text", tr("text", lang), content)


def _over_time(spec: Spec, result: Mapping[str, Any], history: Sequence[Mapping[str, Any]], extras: Mapping[str, Any],
               lang: str, figs: dict) -> Markup:
    content: list[H.Cell] = []
    points = list(history)
    if result.get("as_of") or result.get("computed_at"):
        points.append(result)
    stamps = {p.get("as_of") or p.get("computed_at") for p in points}
    control = str(result.get("control") or spec.control_arm)
    if len(stamps) >= 2:
        figs["cumulative"] = F.cumulative_lift(points, metric=spec.primary_metric, baseline=control,
                                               timezone=spec.timezone, lang=lang)
        content.append(H.figure(figs["cumulative"], "fig-cumulative"))
    else:
        content.append(tag("p", f"{tr('cumulative', lang)}: {tr('absent', lang)}", class_="note"))
    daily = _block("daily", result, extras) or []
    promos = {}
    for k, v in (_block("promotion_days", result, extras) or {}).items():
        try:
            promos[dt.date.fromisoformat(str(k)[:10])] = str(v)
        except ValueError:
            continue
    metrics = list(dict.fromkeys(str(r.get("metric")) for r in daily))
    metrics.sort(key=lambda m: m != spec.primary_metric)
    for m in metrics:
        figs[f"daily_{m}"] = F.daily_trends(daily, metric=m, timezone=spec.timezone, lang=lang, extra_flags=promos)
        content.append(H.figure(figs[f"daily_{m}"], f"fig-daily-{m}"))
    if not metrics:
        content.append(tag("p", f"{tr('daily', lang)}: {tr('absent', lang)}", class_="note"))
    return H.section("time", tr("over_time", lang), content)


def _breakdowns(result: Mapping[str, Any], extras: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = _block("breakdowns", result, extras) or []
    if isinstance(rows, Mapping):  # {dimension: [rows]}
        rows = [{"dimension": d, **r} for d, rs in rows.items() for r in rs]
    rows = list(rows) + [r for r in result.get("metrics", []) if r.get("dimension")]
    return rows


def _planning(spec: Spec, result: Mapping[str, Any], extras: Mapping[str, Any], lang: str, figs: dict) -> Markup:
    content: list[H.Cell] = [tag("p", tr("planning_note", lang), class_="note")]
    given = _block("planning", result, extras)
    if spec.mde is None:
        content.append(tag("p", tr("no_mde", lang)))
    else:
        rows = planning_rows(result, metric=spec.primary_metric, mde=spec.mde, alpha=spec.alpha, power=spec.power)
        planned = result.get("planned_users_per_arm") or spec.planned_users_per_arm
        table_rows = [[r.arm, f"{r.users_per_arm:,}", f"{r.power:.0%}", f"{r.users_needed:,}", f"{r.users_still_needed:,}"]
                      for r in rows]
        content.append(tag("p", f"{tr('mde', lang)}: {spec.mde:.1%} · {metric_label(spec.primary_metric, lang)} · "
                                f"alpha {spec.alpha:g} · power {spec.power:.0%}"
                                + (f" · planned {planned:,}/arm" if _num(planned) else "")))
        if result.get("planned_users_source"):
            content.append(tag("p", f"planned: {result['planned_users_source']}", class_="note"))
        if table_rows:
            content.append(H.table([tr("arm", lang), tr("users_per_arm", lang), tr("power_at_mde", lang),
                                    tr("users_needed", lang), tr("users_still_needed", lang)], table_rows))
            worst = min(rows, key=lambda r: r.power)
            figs["power"] = F.power_curve(se_rel=worst.se_rel, users_per_arm=worst.users_per_arm, mde=spec.mde,
                                          alpha=spec.alpha, target_power=spec.power, lang=lang, arm=worst.arm)
            content.append(H.figure(figs["power"], "fig-power"))
    if isinstance(given, Mapping) and given:
        content.append(H.table([tr("metric", lang), tr("value", lang)], [[k, str(v)] for k, v in given.items()]))
    return H.section("planning", tr("planning", lang), content)


def _method(spec: Spec, result: Mapping[str, Any], extras: Mapping[str, Any], lang: str) -> Markup:
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
    sql = _block("sql", result, extras)
    if isinstance(sql, Mapping):
        sql_parts = [tag("div", [tag("h3", k), tag("pre", str(v))]) for k, v in sql.items()]
    elif isinstance(sql, str):
        sql_parts = [tag("pre", sql)]
    elif isinstance(sql, Sequence) and sql:
        sql_parts = [tag("pre", str(s)) for s in sql]
    else:
        sql_parts = [tag("p", tr("absent", lang), class_="note")]
    return H.section("method", tr("method", lang), [
        H.details(tr("method_notes", lang), H.bullets(notes)),
        H.details(tr("sql", lang), H.join(sql_parts)),
    ])


# --- public API --------------------------------------------------------------------------------
def render(
    spec: Spec,
    result: Mapping[str, Any],
    *,
    history: Sequence[Mapping[str, Any]] = (),
    extras: Mapping[str, Any] | None = None,
    lang: str = "zh",
) -> tuple[str, dict[str, Any]]:
    """The page and the plotly figures in it (by name), e.g. for a PNG export."""
    lang = check_lang(lang)
    extras = extras or {}
    alpha = spec.alpha
    figs: dict[str, Any] = {}
    title = spec.name or spec.key
    start, end = spec.start, spec.end
    header = tag("header", [
        tag("div", [tag("h1", f"{tr('title', lang)} · {title}"),
                    tag("div", f"{spec.key} · {tr('window', lang)} {start} → {end} ({spec.timezone}, end exclusive)"
                        + (f" · {spec.owner}" if spec.owner else ""), class_="meta")]),
        tag("div", f"{tr('as_of', lang)} {_local(result.get('as_of') or result.get('computed_at'), spec.timezone)}", class_="meta"),
    ], class_="top")
    body: list[H.Cell] = [_banner(spec, result, lang)]
    if spec.hypothesis:
        body.append(tag("p", spec.hypothesis, class_="note"))
    body.append(_health(spec, result, extras, lang, figs))
    body.append(H.section("metrics", tr("metrics", lang), [_metric_table(result, alpha, lang)]))
    figs["forest"] = F.forest_plot(result, lang=lang, alpha=alpha)
    body.append(H.section("forest", tr("forest", lang), [H.figure(figs["forest"], "fig-forest")]))
    body.append(_over_time(spec, result, history, extras, lang, figs))
    bd = _breakdowns(result, extras)
    if bd:
        figs["segments"] = F.segment_heatmap(bd, lang=lang, alpha=alpha)
        seg_content: list[H.Cell] = [H.figure(figs["segments"], "fig-segments")]
    else:
        seg_content = [tag("p", tr("absent", lang), class_="note")]
    body.append(H.section("segments", tr("segments", lang), seg_content))
    body.append(_text_section(spec, result, extras, lang, figs))
    body.append(_planning(spec, result, extras, lang, figs))
    body.append(_method(spec, result, extras, lang))
    nav = [("decision", tr("decision", lang)), ("health", tr("health", lang)), ("metrics", tr("metrics", lang)),
           ("forest", tr("forest", lang)), ("time", tr("over_time", lang)), ("segments", tr("segments", lang)),
           ("text", tr("text", lang)), ("planning", tr("planning", lang)), ("method", tr("method", lang))]
    page = H.page(title=f"{tr('title', lang)} · {title}", lang=lang, header=header, nav=nav, body=body)
    return page, figs


def build_report(
    spec: Spec,
    result: Mapping[str, Any],
    *,
    history: Sequence[Mapping[str, Any]] = (),
    extras: Mapping[str, Any] | None = None,
    lang: str = "zh",
) -> str:
    """The report as one self-contained HTML string."""
    return render(spec, result, history=history, extras=extras, lang=lang)[0]


def write_report(
    path: str | Path,
    spec: Spec,
    result: Mapping[str, Any],
    *,
    history: Sequence[Mapping[str, Any]] = (),
    extras: Mapping[str, Any] | None = None,
    lang: str = "zh",
    png_dir: str | Path | None = None,
) -> Path:
    """Write the report (and, with ``png_dir``, PNGs of its figures); returns the HTML path."""
    page, figs = render(spec, result, history=history, extras=extras, lang=lang)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    if png_dir is not None:
        from reports.png import export_png

        export_png(figs, png_dir)
    return path


def report_from_warehouse(
    spec_path: str | Path,
    db: str | Path,
    out: str | Path,
    *,
    lang: str = "zh",
    png_dir: str | Path | None = None,
    result_json: str | Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """What `abkit report` does: the latest stored result (or a fresh analysis) plus history,
    health and daily traffic from the warehouse, written as one HTML file. Returns (path, result)."""
    import json

    from abkit.errors import AbkitError
    from abkit.spec import load_spec
    from abkit.warehouse import connect
    from reports import source
    from reports.i18n import check_lang

    check_lang(lang)
    s = load_spec(spec_path)
    db = Path(db)
    latest: dict[str, Any] | None = None
    history: list[dict[str, Any]] = []
    extras: dict[str, Any] = {}
    daily: list[Any] = []
    if result_json is not None:
        try:
            latest = json.loads(Path(result_json).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise AbkitError(f"{result_json}: not valid JSON ({exc})") from None
        if not isinstance(latest, dict):
            raise AbkitError(f"{result_json}: not an analysis result (expected a JSON object)")
    if db.exists():
        con = connect(db, read_only=True)
        try:
            stored, history = source.latest_and_history(source.stored_results(con, s.key))
            latest = latest or stored
            extras["health"] = source.health(con, s)
            daily = [] if (latest or {}).get("daily") else source.daily_exposures(con, s)
        finally:
            con.close()
    elif latest is None:
        raise AbkitError(f"{db}: no such database (ingest some logs first)")
    if latest is None:
        con = connect(db)  # the analysis materializes working tables
        try:
            latest = source.run_analysis(s, con)
        finally:
            con.close()
    if not latest.get("daily") and daily:
        extras["daily"] = daily
    if not latest.get("sql"):
        extras["sql"] = source.analysis_sql(s)
    path = write_report(out, s, latest, history=history, extras=extras, lang=lang, png_dir=png_dir)
    return path, latest
