"""The "for whom" section (heterogeneity explorer, per-segment policy) and the concurrent-experiment
interaction table of the health section, from the analysis result's ``heterogeneity``, ``policy``
and ``health.interactions`` blocks. Everything a user or model wrote (segment values, arm and
experiment names) is escaped: by reports.html for tables, by ``esc`` for plotly labels."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from abkit.result import AnalysisResult
from reports import html as H
from reports.figures import _layout
from reports.html import Markup, tag

LABELS = {
    "for_whom": ("因人而异(探索性)", "For whom (exploratory)"),
    "slice": ("切片", "Slice"), "users": ("用户(对照/实验)", "Users (control/treatment)"),
    "raw_lift": ("原始提升", "Raw lift"), "shrunk_lift": ("收缩后提升", "Shrunk lift"),
    "vs_rest_q": ("与其余相比 q", "q vs rest"), "call": ("判定", "Call"),
    "differs": ("不同于整体", "differs from overall"), "policy": ("分群策略", "Per-segment policy"),
    "segment": ("分群", "Segment"), "arm": ("组", "Arm"), "reason": ("理由", "Reason"),
    "gain": ("相对最佳单一组的预期增益", "Expected gain over the best single arm"),
    "interactions": ("并行实验交互", "Interaction with concurrent experiments"),
    "other": ("其他实验", "Other experiment"), "in_both": ("共同用户", "Users in both"),
    "chi2_p": ("分组独立 χ² p", "Assignment χ² p"), "interaction_p": ("交互 p", "Interaction p"),
    "flag": ("标记", "Flag"), "heterogeneity_tests": ("异质性检验 (Cochran Q)", "Heterogeneity test (Cochran's Q)"),
}


def _t(key: str, lang: str) -> str:
    zh, en = LABELS[key]
    return zh if lang == "zh" else en


def for_whom_title(lang: str) -> str:
    return _t("for_whom", lang)


def _pct(v: Any) -> str:
    return "—" if not isinstance(v, int | float) else f"{v * 100:+.1f}%"


def _p(v: Any) -> str:
    return "—" if not isinstance(v, int | float) else (f"{v:.2g}" if v < 0.001 else f"{v:.3f}")


def slice_heatmap(slices: Sequence[Mapping[str, Any]], arm: str, lang: str) -> go.Figure | None:
    """Shrunk lift per cell of the first crossed pair (rows: first dimension, columns: second); ★ = FDR call."""
    pairs = [s for s in slices if len(s["dimensions"]) == 2 and s.get("shrunk_lift") is not None]
    if not pairs:
        return None
    dims = pairs[0]["dimensions"]
    pairs = [s for s in pairs if s["dimensions"] == dims]
    ys = sorted({html.escape(str(s["values"][0])) for s in pairs})
    xs = sorted({html.escape(str(s["values"][1])) for s in pairs})
    z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    text = [[""] * len(xs) for _ in ys]
    for s in pairs:
        i, j = ys.index(html.escape(str(s["values"][0]))), xs.index(html.escape(str(s["values"][1])))
        z[i][j] = s["shrunk_lift"]
        text[i][j] = _pct(s["shrunk_lift"]) + ("★" if s["significant"] else "")
    bound = max([abs(v) for row in z for v in row if v is not None] or [0.05])
    fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, text=text, texttemplate="%{text}", colorscale="RdBu", zmid=0,
                               zmin=-bound, zmax=bound, colorbar={"tickformat": "+.0%"},
                               hovertemplate="%{y} × %{x}<br>%{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    title = (f"{html.escape(arm)}: {_t('shrunk_lift', lang)} · {html.escape(dims[0])} × {html.escape(dims[1])} "
             f"(★ = FDR q < α)")
    return _layout(fig, title, height=max(300, 28 * len(ys) + 120))


def _slice_table(ex: Mapping[str, Any], lang: str, top: int = 15) -> Markup:
    rows = []
    for s in [s for s in ex["slices"] if s.get("rank")][:top]:
        rows.append([str(s["rank"]), s["label"], f"{s['n_control']:,} / {s['n_treatment']:,}", _pct(s["rel_lift"]),
                     _pct(s["shrunk_lift"]), _p(s["q_value"]), _t("differs", lang) if s["significant"] else "—"])
    return H.table(["#", _t("slice", lang), _t("users", lang), _t("raw_lift", lang), _t("shrunk_lift", lang),
                    _t("vs_rest_q", lang), _t("call", lang)], rows)


def for_whom_section(result: AnalysisResult, lang: str, figs: dict[str, Any]) -> Markup | None:
    """The section, or None when the analysis has no heterogeneity block."""
    het = result.extra.get("heterogeneity")
    if not isinstance(het, Mapping):
        return None
    content: list[H.Cell] = [tag("p", het.get("note", ""), class_="note")]
    for arm, ex in het.get("arms", {}).items():
        content.append(tag("h3", f"{arm} · {het.get('metric', '')}"))
        content.append(_slice_table(ex, lang))
        tests = [[" × ".join(t["dimensions"]), f"Q = {t['q']:.1f}, df = {t['df']}", _p(t["p_value"])]
                 for t in ex.get("tests", [])]
        if tests:
            content.append(H.table([_t("heterogeneity_tests", lang), "Q", "p"], tests))
        fig = slice_heatmap(ex["slices"], arm, lang)
        if fig is not None:
            key = f"slices_{len(figs)}"
            figs[key] = fig
            content.append(H.figure(fig, f"fig-{key}"))
    pol = result.extra.get("policy")
    if isinstance(pol, Mapping):
        content.append(tag("h3", _t("policy", lang)))
        content.append(H.table([_t("segment", lang), _t("arm", lang), _t("shrunk_lift", lang), _t("reason", lang)],
                               [[s["segment"], s["arm"], _pct(s["shrunk_lift"]), s["reason"]] for s in pol["segments"]]))
        content.append(tag("p", f"{_t('gain', lang)} ({pol['best_single_arm']}): {_pct(pol['gain'])} "
                                f"± {_pct(pol['gain_se'])[1:]} (se)"))
        content.append(tag("p", pol["note"], class_="note"))
    return H.section("for_whom", _t("for_whom", lang), content)


def interaction_table(result: AnalysisResult, lang: str) -> Markup | None:
    """Concurrent experiments sharing users with this one (health section), or None."""
    items = result.health.extra.get("interactions") if result.health is not None else None
    if not items:
        return None
    rows = [[f"{r['other']} ({r['arm']})", f"{r['users_in_both']:,}", _p(r["chi2_p"]), _p(r["interaction_p"]),
             Markup('<span class="bad">⚑</span> ') + H.esc(r["message"]) if r["flagged"] else H.esc(r["message"])]
            for r in items]
    return H.join([tag("h3", _t("interactions", lang)),
                   H.table([_t("other", lang), _t("in_both", lang), _t("chi2_p", lang), _t("interaction_p", lang),
                            _t("flag", lang)], rows)])
