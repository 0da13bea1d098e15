"""The sentences of a decision, in Chinese and English: one code + params per sentence.

The decision (abkit/decision.py) stores each reason and next step as a `Message` (code, params
and the English text); a report renders it in its own language with `render(code, params, lang)`,
so no English sentence ends up inside a Chinese report.

    render("next_stop_arms", {"arms": ["neural_generic"]}, "zh")  -> "立即停止实验组「neural_generic」。"

Params are plain JSON values. Formatting: floats with the spec after the colon (``{lift:+.2%}``),
None as "n/a" / "无", lists joined (", " / "、"; the names in a list param called ``arms`` quoted),
and a param whose name ends in ``_term`` is a word of `TERMS`, translated too.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Lang = Literal["zh", "en"]

TERMS: dict[str, tuple[str, str]] = {
    "adjusted p": ("校正 p 值", "adjusted p"),
    "sequential adjusted p": ("序贯校正 p 值", "sequential adjusted p"),
}

# code: (zh, en); {arm}-like params are arm names, {metric} metric keys (kept in English).
CATALOGUE: dict[str, tuple[str, str]] = {
    # --- the decision's reasons (the documented order of `decide`) ---
    "srm_mismatch": (
        "样本比例失衡：各组用户数（{counts}）与配置的流量权重不符（卡方检验 p = {p:.2g} < 0.001），"
        "分流或日志有问题，任何提升都不可信。",
        "Sample ratio mismatch: the users per arm ({counts}) do not match the configured weights "
        "(chi-square p = {p:.2g} < 0.001), so assignment or logging is broken and no lift can be trusted."),
    "text_guardrail_failed": (
        "实验组「{arm}」的文案护栏未通过：{rule} 不成立（实际值 {value:.4g}）。",
        "Text guardrail failed in arm '{arm}': {rule} does not hold (observed {value:.4g})."),
    "guardrail_shown_worse": (
        "实验组「{arm}」的护栏指标 {metric} 已确认差于 {margin:.1%} 的容忍范围（相对变化 {lift:+.2%}；"
        "单侧置信界超出容忍范围）。",
        "Guardrail {metric} in arm '{arm}' is shown worse than its {margin:.1%} margin "
        "(relative lift {lift:+.2%}; the one-sided confidence bound lies beyond the margin)."),
    "sample_not_reached": (
        "固定样本检验：最小的组只有 {smallest:,} 名用户，计划每组 {planned:,} 名（{share:.0%}），请继续收集数据后再读结果。",
        "Fixed-horizon test: the smallest arm has {smallest:,} users of the {planned:,} planned per arm "
        "({share:.0%}), so keep collecting data before reading the result."),
    "sequential_on": (
        "已开启序贯检验：任意时刻有效的 p 值允许在任何样本量下做决定。",
        "Sequential testing is on: always-valid p-values allow a decision at any sample size."),
    "no_plan": (
        "规格中未设置计划样本量（mde 或 planned_users_per_arm），因此跳过了固定样本量检查。",
        "No planned sample size is set (spec mde or planned_users_per_arm), "
        "so the fixed-horizon sample check was skipped."),
    "primary_untestable": (
        "实验组「{arm}」的 {metric} 无法检验。",
        "{metric} in arm '{arm}' could not be tested{why}."),
    "primary_small_sample": (
        "实验组「{arm}」的 {metric} 事件太少，正态近似不可信，不能据此做决定。",
        "{metric} in arm '{arm}' has too few events for the normal approximation, so it cannot decide anything."),
    "primary_not_significant": (
        "实验组「{arm}」的 {metric} 不显著（{p_term} = {p:.3g} ≥ alpha = {alpha:g}；相对变化 {lift:+.2%}）。",
        "{metric} in arm '{arm}' is not significant ({p_term} = {p:.3g} >= alpha = {alpha:g}; "
        "relative lift {lift:+.2%})."),
    "primary_significantly_worse": (
        "实验组「{arm}」的 {metric} 显著差于对照组（相对变化 {lift:+.2%}，{p_term} = {p:.3g}）。",
        "{metric} in arm '{arm}' is significantly worse than control (relative lift {lift:+.2%}, "
        "{p_term} = {p:.3g})."),
    "primary_better_guardrail_blocks": (
        "实验组「{arm}」的 {metric} 显著更好，但护栏指标 {guardrail} 尚未确认非劣（单侧置信界 {bound:+.2%}，容忍 {limit:+.1%}）。",
        "{metric} in arm '{arm}' is significantly better, but guardrail {guardrail} is not shown non-inferior "
        "(one-sided bound {bound:+.2%} vs margin {limit:+.1%})."),
    "primary_better": (
        "实验组「{arm}」的 {metric} 显著优于对照组（相对提升 {lift:+.2%}，置信区间 [{low:+.2%}, {high:+.2%}]，"
        "{p_term} = {p:.3g} < alpha = {alpha:g}）。",
        "{metric} in arm '{arm}' is significantly better than control (relative lift {lift:+.2%}, "
        "CI [{low:+.2%}, {high:+.2%}], {p_term} = {p:.3g} < alpha = {alpha:g})."),
    "guardrails_non_inferior": (
        "所有护栏指标均已确认非劣：{metrics}。",
        "Every guardrail is shown non-inferior: {metrics}."),
    "best_of_several": (
        "在 {count} 个胜出的实验组中，「{arm}」的相对提升置信界最好（{bound:+.2%}）。",
        "Among {count} winning arms, '{arm}' has the best confidence bound of relative lift ({bound:+.2%})."),
    "no_primary_result": (
        "没有任何实验组的 {metric} 结果可供判断。",
        "No treatment arm has a {metric} result to judge."),
    # --- per-arm verdicts ---
    "arm_harmful_text": (
        "「{arm}」有害：文案护栏 {rule} 不成立（实际值 {value:.4g}）。",
        "'{arm}' is harmful: text guardrail {rule} does not hold (observed {value:.4g})."),
    "arm_harmful_guardrail": (
        "「{arm}」有害：护栏指标 {metric} 已确认差于 {margin:.1%} 的容忍范围（相对变化 {lift:+.2%}）。",
        "'{arm}' is harmful: guardrail {metric} is shown worse than its {margin:.1%} margin "
        "(relative lift {lift:+.2%})."),
    "arm_harmful_primary": (
        "「{arm}」有害：{metric} 显著更差（相对变化 {lift:+.2%}，{p_term} = {p:.3g}）。",
        "'{arm}' is harmful: {metric} is significantly worse (relative lift {lift:+.2%}, {p_term} = {p:.3g})."),
    "arm_ship_candidate": (
        "「{arm}」可上线：{metric} 显著优于对照组（相对提升 {lift:+.2%}，置信区间 [{low:+.2%}, {high:+.2%}]），"
        "且所有护栏非劣。",
        "'{arm}' is a ship candidate: {metric} beats control significantly (relative lift {lift:+.2%}, "
        "CI [{low:+.2%}, {high:+.2%}]) and every guardrail is non-inferior."),
    "arm_guardrail_unproven": (
        "「{arm}」的护栏指标 {guardrail} 尚未确认非劣（单侧置信界 {bound:+.2%}，容忍 {limit:+.1%}），不能上线。",
        "'{arm}' cannot ship yet: guardrail {guardrail} is not shown non-inferior "
        "(one-sided bound {bound:+.2%} vs margin {limit:+.1%})."),
    "arm_keep_running": (
        "「{arm}」需继续运行：已有 {users:,} 名用户，计划 {planned:,} 名（{share:.0%}）。",
        "'{arm}' should keep running: {users:,} of its {planned:,} planned users ({share:.0%})."),
    "arm_not_significant": (
        "「{arm}」的 {metric} 与对照组无显著差异（{p_term} = {p:.3g}，相对变化 {lift:+.2%}）。",
        "'{arm}' shows no significant difference in {metric} ({p_term} = {p:.3g}, relative lift {lift:+.2%})."),
    "arm_small_sample": (
        "「{arm}」的 {metric} 事件太少，正态近似不可信，无法判断。",
        "'{arm}' has too few {metric} events to trust the normal approximation, so it cannot be judged."),
    "arm_untestable": (
        "「{arm}」的 {metric} 无法检验。",
        "'{arm}' could not be tested on {metric}."),
    "arm_srm": (
        "样本比例失衡，「{arm}」的结果不可信。",
        "The sample ratio mismatch makes '{arm}''s results untrustworthy."),
    "arm_vs_arm": (
        "「{arm}」的 {metric} 比「{other}」{direction_term}（相对 {lift:+.2%}，{p_term} = {p:.3g}）；仅供参考，上线只看与对照组的比较。",
        "'{arm}' is {direction_term} than '{other}' on {metric} (relative {lift:+.2%}, {p_term} = {p:.3g}); "
        "this informs but never decides, as shipping needs a win over control."),
    # --- next steps ---
    "next_fix_srm": (
        "停止实验，排查分流与日志问题；修复后用新的哈希种子重新开始。",
        "Stop the experiment and fix assignment or logging; after the fix, restart with a new hash seed."),
    "next_stop_arms": (
        "立即停止实验组{arms}。",
        "Stop {arms} now."),
    "next_keep_running_days": (
        "让「{arm}」继续运行约 {days} 天，达到计划的 {planned:,} 名用户（还差 {to_go:,} 名）。",
        "Keep '{arm}' running about {days} more days to reach its planned {planned:,} users ({to_go:,} to go)."),
    "next_keep_running_users": (
        "让「{arm}」继续运行，直到达到计划的 {planned:,} 名用户（还差 {to_go:,} 名）。",
        "Keep '{arm}' running until it reaches its planned {planned:,} users ({to_go:,} to go)."),
    "next_ship_ramp": (
        "上线「{arm}」：先放量到 10% 用户，再到 50%，最后 100%，每一步都检查护栏指标；放量只调整覆盖率，不改分组权重。",
        "Ship '{arm}': roll it out to 10% of users, then 50%, then 100%, checking the guardrails at each step; "
        "ramp by coverage, never by changing arm weights."),
    "next_no_winner": (
        "在计划样本量下没有实验组胜过对照组：保留对照组并结束实验，或以更大的最小可检测效应重新规划。",
        "No arm beats control at the planned sample: keep control and end the experiment, "
        "or re-plan for a larger minimum detectable effect."),
    "next_set_plan": (
        "在规格中设置 mde（或 planned_users_per_arm），以便判断样本是否已足够。",
        "Set mde (or planned_users_per_arm) in the spec so that abkit can tell when the sample is complete."),
    "next_keep_collecting": (
        "继续收集数据：序贯检验允许随时查看结果，直到得出结论。",
        "Keep collecting data: sequential testing allows looking at any time until a verdict is reached."),
    # --- the sample-size plan (abkit/planning.py) ---
    "plan_single": (
        "单个双侧检验：{metric}（{kind_term}）基线 {baseline:.4g}，在 alpha {alpha:g}、功效 {power:.0%} 下检测 {mde:+.1%} "
        "的相对变化，每组需要 {n:,} 名用户。",
        "One two-sided test of {metric} ({kind_term}) from a baseline of {baseline:.4g} needs {n:,} users per arm to "
        "detect a {mde:+.1%} relative change at alpha {alpha:g} with {power:.0%} power."),
    "plan_multiplicity": (
        "{tests} 个实验组各与对照组比较：alpha 按 Bonferroni 拆分为每个检验 {alpha_t:.4g}（对 {correction_term} 校正是保守的），"
        "样本量乘以 {factor:.3f}。",
        "{tests} treatment arms are each compared with control: alpha is split Bonferroni-style to {alpha_t:.4g} "
        "per test (conservative for the {correction_term} correction), which multiplies the size by {factor:.3f}."),
    "plan_no_split": (
        "{tests} 个实验组各与对照组比较，但未做多重检验校正，alpha 不拆分。",
        "{tests} treatment arms are compared with control without a multiplicity correction, so alpha is not split."),
    "plan_cuped": (
        "CUPED 预计消除 {reduction:.1%} 的方差（历史数据中与预实验协变量的相关系数平方），样本量相应乘以 1 − ρ²。",
        "CUPED is expected to remove {reduction:.1%} of the variance (the squared correlation with the "
        "pre-period covariate in the history), so the size is multiplied by 1 − ρ²."),
    "plan_sequential": (
        "序贯检验：置信序列在计划样本处的临界值为 {crit:.3f}（N* = {tuning_n:,}），样本量乘以 {factor:.3f}。",
        "Sequential testing: the confidence sequence's critical value at the planned sample is {crit:.3f} "
        "(N* = {tuning_n:,}), which multiplies the size by {factor:.3f}."),
    "plan_result": (
        "计划：每组 {per_arm:,} 名用户，实验共 {total:,} 名（按覆盖率需触达 {eligible:,} 名）。",
        "Plan: {per_arm:,} users per arm, {total:,} in the experiment ({eligible:,} to reach at the spec's coverage)."),
}

TERMS.update({"better": ("更好", "better"), "worse": ("更差", "worse"),
              "proportion": ("比例", "proportion"), "mean": ("均值", "mean"), "ratio": ("比率", "ratio"),
              "holm": ("Holm", "Holm"), "bh": ("Benjamini–Hochberg", "Benjamini–Hochberg")})


class _Formatter(string.Formatter):
    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        value = kwargs[key] if isinstance(key, str) else args[key]
        zh = self.lang == "zh"
        if isinstance(key, str) and key.endswith("_term") and value in TERMS:
            return TERMS[value][0 if zh else 1]
        if isinstance(value, list | tuple):
            items = [f"「{v}」" if zh else f"'{v}'" for v in value] if key == "arms" else [str(v) for v in value]
            return ("、" if zh else ", ").join(items)
        return value

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "无" if self.lang == "zh" else "n/a"
        return super().format_field(value, format_spec)


def render(code: str, params: Mapping[str, Any], lang: Lang = "en") -> str:
    """The sentence of `code` with `params` in `lang` ('zh' or 'en')."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    try:
        template = CATALOGUE[code][0 if lang == "zh" else 1]
    except KeyError:
        raise KeyError(f"unknown message code {code!r}") from None
    return _Formatter(lang).format(template, **params)


@dataclass(frozen=True)
class Message:
    """One sentence: a catalogue code, its params and the English text."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def of(cls, code: str, **params: Any) -> Message:
        return cls(code, params, render(code, params, "en"))

    def render(self, lang: Lang = "en") -> str:
        return render(self.code, self.params, lang)
