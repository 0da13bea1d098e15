"""Report labels in Chinese (default) or English; metric keys always stay in English.

    tr("srm", "zh")            -> "样本比例检查 (SRM)"
    metric_label("ctr", "zh")  -> "点击率 (ctr)"
    text_metric_label("self_bleu", "zh") -> "Self-BLEU（越低越多样）"
"""

from __future__ import annotations

from typing import Literal

from abkit.errors import AbkitError
from abkit.metrics import METRICS

Lang = Literal["zh", "en"]
LANGS: tuple[str, ...] = ("zh", "en")

_LABELS: dict[str, tuple[str, str]] = {
    # key: (zh, en)
    "title": ("实验报告", "Experiment report"),
    "generated": ("生成于", "Generated"),
    "window": ("实验窗口", "Window"),
    "as_of": ("数据截至", "Data as of"),
    "decision": ("结论", "Decision"),
    "action.ship": ("上线", "Ship"),
    "action.keep_running": ("继续运行", "Keep running"),
    "action.stop": ("停止", "Stop"),
    "action.no_decision": ("暂无结论", "No decision"),
    "arm": ("实验组", "Arm"),
    "baseline": ("对照", "Baseline"),
    "reasons": ("原因", "Reasons"),
    "rollout": ("放量计划", "Rollout plan"),
    "next_steps": ("下一步", "Next steps"),
    "health": ("数据健康", "Data health"),
    "srm": ("样本比例检查 (SRM)", "Sample ratio check (SRM)"),
    "observed": ("实际用户数", "Observed users"),
    "expected": ("期望用户数", "Expected users"),
    "before_exclusion": ("剔除前", "Before exclusion"),
    "weight": ("流量权重", "Weight"),
    "srm_ok": ("通过", "OK"),
    "srm_bad": ("样本比例失衡：结果不可信", "Mismatch: results are not trustworthy"),
    "excluded_multi_arm": ("多组用户（已剔除）", "Multi-arm users (excluded)"),
    "unknown_arm_exposures": ("未知实验组的曝光", "Exposures with an unknown arm"),
    "freshness": ("数据新鲜度", "Data freshness"),
    "latest_ingest": ("最近入库", "Latest ingestion"),
    "latest_exposure": ("最近曝光", "Latest exposure"),
    "quarantined": ("隔离行数", "Quarantined rows"),
    "table": ("表", "Table"),
    "rows": ("行数", "Rows"),
    "none": ("无", "none"),
    "unknown": ("未知", "unknown"),
    "metrics": ("指标结果", "Metric results"),
    "metric": ("指标", "Metric"),
    "family": ("检验族", "Family"),
    "control_value": ("对照值", "Control"),
    "treatment_value": ("实验值", "Treatment"),
    "abs_lift": ("绝对提升 [CI]", "Abs. lift [CI]"),
    "rel_lift": ("相对提升 [CI]", "Rel. lift [CI]"),
    "seq_ci": ("序贯 CI", "Sequential CI"),
    "p_value": ("p 值", "p"),
    "p_adjusted": ("校正 p 值", "Adj. p"),
    "significant": ("显著", "Significant"),
    "variance_reduction": ("CUPED 降方差", "CUPED var. ↓"),
    "note": ("备注", "Note"),
    "sig_yes": ("显著", "significant"),
    "sig_no": ("不显著", "not significant"),
    "flag_disagree": ("p 值与置信区间结论不一致（临界）", "p-value and CI disagree (near the boundary)"),
    "flag_multiplicity": ("未校正时显著，多重检验校正后不显著", "significant before, not after, multiplicity correction"),
    "forest": ("相对提升森林图", "Relative lift (forest plot)"),
    "over_time": ("随时间变化", "Over time"),
    "cumulative": ("累计相对提升", "Cumulative relative lift"),
    "daily": ("每日趋势", "Daily trends"),
    "holiday": ("节假日/大促", "Holiday / promotion"),
    "segments": ("分群表现", "Segment breakdown"),
    "text": ("文案质量与合规", "Text quality and compliance"),
    "text_guardrails": ("文案护栏", "Text guardrails"),
    "guardrails": ("指标护栏", "Metric guardrails"),
    "margin": ("容忍下降", "Margin"),
    "bound": ("置信下界", "Lower bound"),
    "status": ("状态", "Status"),
    "pass": ("通过", "pass"),
    "fail": ("未通过", "FAIL"),
    "inconclusive": ("不确定", "inconclusive"),
    "threshold": ("阈值", "Threshold"),
    "rule": ("规则", "Rule"),
    "value": ("数值", "Value"),
    "text_features": ("按文案特征的点击/转化（相关性，非因果）", "CTR/CVR by text feature (associations, not effects)"),
    "samples": ("文案样例", "Sample reasons"),
    "segment": ("人群", "Segment"),
    "item": ("商品", "Item"),
    "reason_text": ("推荐理由", "Reason"),
    "planning": ("功效与样本量", "Power and sample size"),
    "mde": ("最小可检测效应 (MDE)", "Minimum detectable effect (MDE)"),
    "users_per_arm": ("每组用户数", "Users per arm"),
    "power_at_mde": ("当前样本在 MDE 下的功效", "Power at the MDE with the sample reached"),
    "users_needed": ("达到目标功效所需每组用户", "Users per arm needed for the target power"),
    "users_still_needed": ("仍需每组用户", "Users per arm still needed"),
    "planning_note": (
        "功效按计划的 MDE 与当前样本的标准误计算，而不是“观测功效”（后者只是 p 值的改写）。",
        "Power is computed at the planned MDE from the standard error reached, not 'observed power' "
        "(which only restates the p-value).",
    ),
    "no_mde": ("实验配置未设置 mde，无法计算功效。", "The spec sets no mde, so power cannot be computed."),
    "method": ("方法说明与 SQL", "Method notes and SQL"),
    "method_notes": ("方法说明", "Method notes"),
    "power_axis": ("MDE 下的功效", "Power at the MDE"),
    "sql": ("使用的 SQL", "SQL used"),
    "absent": ("分析结果中没有此部分", "Not in this analysis result"),
    "holdout": ("保留对照 (holdout)", "Holdout"),
    "coverage": ("覆盖比例", "Coverage"),
    "step": ("阶段", "Step"),
    "watch": ("观察指标", "Watch"),
    "min_days": ("最少天数", "Min. days"),
    "diversity": ("多样性", "Diversity"),
    "texts": ("文案数", "Texts"),
    # text-quality table: one label per metric key of the diversity block (text_metric_label)
    "text_metric.texts": ("文案数", "Distinct texts"),
    "text_metric.pairs": ("商品-文案对数", "Item-text pairs"),
    "text_metric.distinct_1": ("字级多样性 Distinct-1", "Distinct-1 (chars)"),
    "text_metric.distinct_2": ("字级多样性 Distinct-2", "Distinct-2 (chars)"),
    "text_metric.distinct_3": ("字级多样性 Distinct-3", "Distinct-3 (chars)"),
    "text_metric.distinct_4": ("字级多样性 Distinct-4", "Distinct-4 (chars)"),
    "text_metric.distinct_2_at_n": ("等样本量 Distinct-2", "Distinct-2 at equal N"),
    "text_metric.sample_n": ("等样本量 N", "Equal-N sample size"),
    "text_metric.entropy_4": ("4-gram 熵", "Entropy-4"),
    "text_metric.self_bleu": ("Self-BLEU（越低越多样）", "Self-BLEU (lower = more diverse)"),
    "text_metric.self_bleu_sample": ("Self-BLEU 样本数", "Self-BLEU sample"),
    "text_metric.unique_reason_ratio": ("独特文案占比", "Unique-reason ratio"),
    "text_metric.personalization": ("个性化程度", "Personalization"),
    "text_metric.repetition_rate": ("重复/卡顿文案占比", "Repetition rate"),
    "text_metric.mean_length": ("平均字数", "Mean length (chars)"),
    "text_metric.unfaithful_rate": ("与商品属性矛盾占比", "Contradicts the item"),
    "text_metric.unsupported_rate": ("无属性支撑的事实陈述占比", "Unsupported factual claims"),
    "text_metric.subjective_rate": ("主观/风格描述占比", "Subjective / style claims"),
    "text_metric.ad_law_violation_rate": ("广告法违规占比", "Ad-law violations"),
    "text_metric.attribute_coverage": ("属性覆盖率", "Attribute coverage"),
    "text_metric.promo_mention_rate": ("提及价格/促销占比", "Mentions price or promotion"),
    "text_metric.items_missing": ("目录中缺失的商品数", "Items not in the catalog"),
    # why a text-quality cell shows "—" instead of a number
    "text_na": ("—", "—"),
    "text_na.no_catalog": ("无商品目录，未做属性核对", "no item catalog: claims not checked"),
    "text_na.no_texts": ("该组没有文案", "the arm served no texts"),
    "text_na.self_bleu_skipped": ("未计算 Self-BLEU（样本为 0）", "self-BLEU not computed (sample 0)"),
    "text_na.too_short": ("文案过短，无该阶 n-gram", "texts too short for this n-gram order"),
    "text_na.no_segments": ("无人群字段，无法计算个性化", "no segment column: personalization not computed"),
    "text_na.no_attributes": ("商品无属性，覆盖率不适用", "items have no attributes: coverage does not apply"),
}


def check_lang(lang: str) -> Lang:
    if lang not in LANGS:
        raise AbkitError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
    return lang  # type: ignore[return-value]


def tr(key: str, lang: str = "zh") -> str:
    """The label for ``key``; unknown keys come back unchanged (so a missing label shows, not crashes)."""
    pair = _LABELS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]


def metric_label(key: str, lang: str = "zh") -> str:
    """Chinese name with the English key in zh (``点击率 (ctr)``); the key alone in en."""
    m = METRICS.get(key)
    if lang == "zh" and m is not None:
        return f"{m.label_zh} ({key})"
    return key


def text_metric_label(key: str, lang: str = "zh") -> str:
    """Readable name of a text-quality metric key (``text_metric.<key>``); unknown keys come back unchanged."""
    return tr(f"text_metric.{key}", lang) if f"text_metric.{key}" in _LABELS else key


def action_label(action: str | None, lang: str = "zh") -> str:
    return tr(f"action.{action or 'no_decision'}", lang)
