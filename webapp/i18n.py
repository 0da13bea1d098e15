"""The app's labels in Chinese and English: its own catalogue, falling back to the report's (reports.i18n).

    t = translator("en"); t("new_experiment") -> "New experiment"; t.metric("ctr"); t.state("running")
"""

from __future__ import annotations

from abkit.messages import render as render_message
from reports.i18n import LANGS, action_label, metric_label, tr

_LABELS: dict[str, tuple[str, str]] = {
    "app_title": ("推荐理由实验", "experiments"),
    "experiments": ("实验列表", "Experiments"),
    "new_experiment": ("新建实验", "New experiment"),
    "edit": ("编辑", "Edit"),
    "key": ("实验标识", "Key"),
    "name": ("名称", "Name"),
    "owner": ("负责人", "Owner"),
    "hypothesis": ("假设", "Hypothesis"),
    "state": ("状态", "State"),
    "state.draft": ("草稿", "draft"),
    "state.running": ("运行中", "running"),
    "state.stopped": ("已停止", "stopped"),
    "state.shipped": ("已上线", "shipped"),
    "state.rolled_back": ("已回滚", "rolled back"),
    "state_unrecorded": ("未记录状态", "no state recorded"),
    "days": ("天数（已运行/计划）", "Days (running / planned)"),
    "users_so_far": ("已进组用户", "Users so far"),
    "health_col": ("数据健康", "Data health"),
    "all": ("全部", "all"),
    "filter": ("筛选", "Filter"),
    "no_experiments": ("还没有实验。", "No experiments yet."),
    "shown_of": ("显示 {shown} / 共 {total}", "showing {shown} of {total}"),
    "warn_srm": ("SRM 失衡", "SRM mismatch"),
    "warn_stale": ("数据超过 24 小时未更新", "no new data for 24 h"),
    "warn_no_data": ("运行中但没有曝光", "running but no exposures"),
    "warn_quarantine": ("仓库中有 {n} 行被隔离的数据（见 quarantine 表）", "{n} quarantined rows in the warehouse (quarantine table)"),
    "spec_invalid": ("配置文件无效", "invalid spec file"),
    "no_spec": ("无配置文件", "no spec file"),
    "no_result": ("尚无分析结果", "not analysed yet"),
    "verdict.ship_candidate": ("可上线候选", "ship candidate"),
    "verdict.harmful": ("有害", "harmful"),
    "verdict.inconclusive": ("不确定", "inconclusive"),
    "verdict.keep_running": ("继续运行", "keep running"),
    "next_step": ("下一步", "Next step"),
    # form
    "basics": ("基本信息", "Basics"),
    "arms": ("实验组", "Arms"),
    "arm_name": ("组名", "Arm name"),
    "generator": ("文案生成器", "Generator"),
    "gen.": ("无（外部文案）", "none (texts from elsewhere)"),
    "gen.template": ("模板", "template"),
    "gen.neural": ("神经网络", "neural"),
    "gen.external": ("外部", "external"),
    "temperature": ("温度", "Temperature"),
    "personalized": ("个性化", "Personalized"),
    "remove": ("删除", "Remove"),
    "add_arm": ("添加实验组", "Add arm"),
    "control_arm": ("对照组", "Control arm"),
    "control_default": ("（第一个组）", "(the first arm)"),
    "window_fields": ("时间窗口", "Window"),
    "start": ("开始日期", "Start"),
    "end": ("结束日期（不含）", "End (exclusive)"),
    "timezone": ("时区", "Time zone"),
    "metrics_fields": ("指标", "Metrics"),
    "primary_metric": ("主指标", "Primary metric"),
    "secondary_metrics": ("次要指标", "Secondary metrics"),
    "guardrail_rows": ("护栏指标与容忍下降", "Guardrail metrics and margins"),
    "add_guardrail": ("添加护栏", "Add guardrail"),
    "text_guardrail_help": ("每行一条，例如 unfaithful_rate <= 0.02", "One per line, e.g. unfaithful_rate <= 0.02"),
    "dimensions": ("分析维度（逗号分隔）", "Dimensions (comma-separated)"),
    "stats_fields": ("统计设置", "Statistics"),
    "alpha": ("显著性水平 alpha", "Alpha"),
    "power_field": ("目标功效", "Power"),
    "mde_field": ("最小可检测效应（相对）", "MDE (relative)"),
    "planned_users": ("计划每组用户数（可选）", "Planned users per arm (optional)"),
    "coverage_field": ("覆盖比例", "Coverage"),
    "cuped_field": ("CUPED 降方差", "CUPED"),
    "sequential_field": ("序贯检验（可随时查看）", "Sequential testing (safe to peek)"),
    "save": ("保存草稿", "Save draft"),
    "save_changes": ("保存修改", "Save changes"),
    "locked_note": ("实验已启动：组、权重、种子、开始日期和指标已锁定；要修改请新建一期实验。",
                    "The experiment has launched: arms, weights, seed, start and metrics are locked; "
                    "changing them means a new phase (a new experiment)."),
    "hash_seed": ("哈希种子", "Hash seed"),
    "calculator": ("功效与时长计算", "Power and duration"),
    "calc_users_per_arm": ("每组所需用户", "Users per arm needed"),
    "calc_users_total": ("总用户", "Users in total"),
    "calc_days": ("所需天数", "Days needed"),
    "calc_window": ("计划窗口天数", "Window (days)"),
    "calc_history": ("历史数据", "History"),
    "calc_unknown": ("无法估计", "unknown"),
    "calc_too_short": ("窗口短于所需天数", "the window is shorter than the days needed"),
    "form_error": ("配置有误，请修改标红的字段。", "The spec has a problem: fix the field marked in red."),
    "saved": ("已保存。", "Saved."),
    # experiment page
    "lifecycle": ("生命周期", "Lifecycle"),
    "why": ("原因（记入审计日志）", "Why (goes into the audit trail)"),
    "confirm": ("我确认", "I confirm"),
    "act.launch": ("启动实验", "Launch"),
    "act.stop": ("停止实验", "Stop"),
    "act.ship": ("上线实验组", "Ship arm"),
    "act.rollback": ("回滚", "Roll back"),
    "ship_state": ("已上线实验组", "Shipped arm"),
    "ship_coverage": ("当前覆盖", "current coverage"),
    "ship_phase": ("阶段", "phase"),
    "ship_since": ("本步开始于", "this step since"),
    "ship_note": ("覆盖范围内的用户看到该组文案，其余用户看到默认体验（对照组）；有放量计划时由 abkit rollout 逐步放量。",
                  "Users inside the coverage get this arm's texts, the others the default experience (control); "
                  "with a rollout plan, abkit rollout raises the coverage step by step."),
    "audit": ("审计日志", "Audit trail"),
    "when": ("时间 (UTC)", "When (UTC)"),
    "who": ("操作人", "Who"),
    "why_col": ("原因", "Why"),
    "analysis": ("分析", "Analysis"),
    "run_analysis": ("重新运行分析", "Re-run the analysis"),
    "download_report": ("下载 HTML 报告", "Download the HTML report"),
    "simulate": ("模拟流量（仅用于本地试用）", "Simulate traffic (for trying abkit locally)"),
    "simulate_note": ("写入模拟的曝光与事件，不是真实用户数据。真实实验的数据来自 abkit serve 或你们自己的日志。",
                      "Writes simulated exposures and events — not real user data. A real experiment gets its data "
                      "from `abkit serve` or your own logs."),
    "sim_users": ("模拟用户数", "Simulated users"),
    "sim_days": ("模拟天数", "Days"),
    "job.running": ("运行中", "running"),
    "job.done": ("完成", "done"),
    "job.failed": ("失败", "failed"),
    "job.analyze": ("分析", "Analysis"),
    "job.simulate": ("模拟", "Simulation"),
    "elapsed": ("已用时", "elapsed"),
    "step_of": ("步骤", "step"),
    "review": ("文案审核", "Reason review"),
    "spec_yaml": ("配置", "Spec"),
    "no_result_help": ("还没有分析结果：先有数据（模拟流量或真实日志），再运行分析。",
                       "No analysis result yet: get data in (simulated traffic or real logs), then run the analysis."),
    "decision_badge": ("当前结论", "Current decision"),
    # review
    "review_intro": ("每个实验组按实验标识做种子抽样的已曝光文案（检查器标记的文案会被多抽）。",
                     "A sample of each arm's exposed texts, seeded by the experiment key (texts the checkers flag are over-sampled)."),
    "label": ("标注", "Label"),
    "label.faithful": ("忠实", "faithful"),
    "label.contradicting": ("与商品矛盾", "contradicting"),
    "label.unsupported": ("无依据", "unsupported"),
    "label.subjective": ("主观", "subjective"),
    "label.banned": ("违禁词", "banned"),
    "labelled": ("已标注", "Labelled"),
    "error_rate": ("错误率 [95% CI]", "Error rate [95% CI]"),
    "checker": ("检查器", "Checker"),
    "item_facts": ("商品信息", "Item"),
    "save_label": ("保存", "Save"),
    "no_samples": ("还没有已曝光的文案。", "No exposed texts yet."),
    # auth / errors
    "sign_in": ("登录", "Sign in"),
    "token": ("访问令牌", "Token"),
    "token_wrong": ("令牌不正确。", "Wrong token."),
    "read_only_note": ("只读：修改需要令牌。", "Read-only: changes need the token."),
    "err_csrf": ("表单已过期或来自其他站点（CSRF 校验失败），请刷新页面后重试。",
                 "The form expired or came from another site (CSRF check failed): reload the page and try again."),
    "err_token": ("修改需要访问令牌：请先登录。", "Changes need the token: sign in first."),
    "err_confirm": ("请勾选“我确认”。", "Tick 'I confirm' to go ahead."),
    "error": ("出错了", "Something went wrong"),
    "back": ("返回", "Back"),
    "signed_as": ("操作人", "acting as"),
}


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "zh"

    def __call__(self, key: str, **kwargs: object) -> str:
        pair = _LABELS.get(key)
        text = (pair[0] if self.lang == "zh" else pair[1]) if pair else tr(key, self.lang)
        return text.format(**kwargs) if kwargs else text

    def metric(self, key: str) -> str:
        return metric_label(key, self.lang)

    def action(self, action: str | None) -> str:
        return action_label(action, self.lang)

    def state(self, state: str) -> str:
        return self(f"state.{state}")

    def say(self, messages: object) -> str:
        """The analysis's sentences (``{code, params, text}`` messages, or plain strings) in this
        language, joined; an unknown code falls back to the message's own text."""
        items = messages if isinstance(messages, list | tuple) else [messages] if messages else []
        out = []
        for m in items:
            if isinstance(m, dict) and "code" in m:
                try:
                    out.append(render_message(str(m["code"]), m.get("params") or {}, "zh" if self.lang == "zh" else "en"))
                except (KeyError, ValueError):
                    out.append(str(m.get("text") or m["code"]))
            elif m:
                out.append(str(m))
        return "; ".join(out)


def translator(lang: str) -> Translator:
    return Translator(lang)


__all__ = ["LANGS", "Translator", "translator"]
