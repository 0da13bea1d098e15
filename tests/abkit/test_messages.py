"""The zh/en message catalogue of decisions: every code renders in both languages, with the same params."""

from __future__ import annotations

import re
import string

import pytest

from abkit.messages import CATALOGUE, Message, render

SAMPLE = {"arm": "neural_generic", "other": "neural_personalized", "arms": ["a", "b"], "metric": "ctr",
          "guardrail": "conversion_rate", "metrics": ["conversion_rate", "refund_rate"], "rule": "unfaithful_rate <= 0.01",
          "value": 0.03, "margin": 0.02, "lift": -0.0204, "low": -0.03, "high": -0.01, "bound": -0.031,
          "limit": -0.02, "p": 0.0012, "alpha": 0.05, "p_term": "sequential adjusted p", "direction_term": "better",
          "users": 41_000, "planned": 80_000, "share": 0.51, "smallest": 41_000, "days": 6, "to_go": 39_000,
          "count": 2, "counts": "control 1,000, neural 1,200", "why": " (no users)",
          "kind_term": "proportion", "baseline": 0.04, "mde": 0.05, "power": 0.8, "n": 120_000, "tests": 2,
          "alpha_t": 0.025, "factor": 1.21, "correction_term": "holm", "reduction": 0.12, "crit": 3.035,
          "tuning_n": 240_000, "per_arm": 145_000, "total": 435_000, "eligible": 870_000}


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_renders_in_both_languages(code):
    zh_t, en_t = CATALOGUE[code]
    assert _fields(zh_t) <= _fields(en_t) and _fields(en_t) - _fields(zh_t) <= {"why"}  # why: English detail
    zh, en = render(code, SAMPLE, "zh"), render(code, SAMPLE, "en")
    assert re.search(r"[\u4e00-\u9fff]", zh) and not re.search(r"[\u4e00-\u9fff]", en)
    # no English words left in the Chinese sentence other than the params (arm/metric keys, rules)
    residue = zh
    for v in ("neural_generic", "neural_personalized", "unfaithful_rate <= 0.01", "conversion_rate",
              "refund_rate", "ctr", "alpha", "mde", "planned_users_per_arm", "control 1,000, neural 1,200", "SRM",
              "Bonferroni", "Holm", "CUPED"):
        residue = residue.replace(v, "")
    assert not re.search(r"[A-Za-z]{3,}", residue), residue
    assert en.endswith(".") and zh.endswith("。")


def test_none_lists_and_terms():
    assert render("guardrail_shown_worse", {**SAMPLE, "lift": None}, "en").count("n/a") == 1
    assert "无" in render("guardrail_shown_worse", {**SAMPLE, "lift": None}, "zh")
    assert render("next_stop_arms", {"arms": ["a", "b{x}"]}, "en") == "Stop 'a', 'b{x}' now."
    assert render("next_stop_arms", {"arms": ["甲"]}, "zh") == "立即停止实验组「甲」。"
    assert "序贯校正 p 值" in render("primary_not_significant", SAMPLE, "zh")
    m = Message.of("next_stop_arms", arms=["a"])
    assert m.text == "Stop 'a' now." and m.render("zh") == "立即停止实验组「a」。"
    with pytest.raises(KeyError):
        render("no_such_code", {}, "en")
    with pytest.raises(ValueError):
        render("next_fix_srm", {}, "fr")
