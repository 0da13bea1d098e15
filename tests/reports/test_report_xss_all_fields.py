"""Every string the report can render carries a payload, and none becomes markup (issue 17, finding 13).

Rather than a hand-picked list, every string value (and data-bearing mapping key) of the analysis
result and every free-text field of the spec gets its own numbered payload; only values the report
computes with (metric keys, families, actions, dates it plots) keep their meaning. A field added
later is covered without touching this test.
"""

from __future__ import annotations

import copy
import html
import re
from typing import Any

import pytest

from abkit.result import AnalysisResult
from abkit.spec import parse_spec
from reports.build import render
from tests.reports.conftest import NAMES, _rename, _spec_dict
from tests.reports.test_report_html import _tags

# Values the report looks up or computes with; everything else is free text.
STRUCTURAL = {"metric", "family", "action", "correction", "kind", "date", "feature", "level", "computed_at",
              "as_of", "window_utc", "dimension", "engine"}
DATA_KEYS = ("quarantine", "latest_ingested_at", "breakdowns")  # mappings whose keys are shown


def payload(n: int) -> str:
    return f'<img src=x onerror="window.__xss={n}"><script>window.__xss={n}</script>'


class Filler:
    """Appends payload(n) to every free-text string, remembering where each went."""

    def __init__(self) -> None:
        self.where: dict[int, str] = {}

    def mark(self, value: str, path: str) -> str:
        n = len(self.where) + 100
        self.where[n] = path
        return f"{value}{payload(n)}"

    def fill(self, obj: Any, path: str = "", key: str = "") -> Any:
        if isinstance(obj, dict):
            keyed = key in DATA_KEYS
            return {(self.mark(k, f"{path}.<key {k}>") if keyed else k): self.fill(v, f"{path}.{k}", k)
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.fill(v, f"{path}[{i}]", key) for i, v in enumerate(obj)]
        if isinstance(obj, str) and key not in STRUCTURAL and obj not in NAMES.values():
            if key in ("arm", "baseline", "control") or obj in {"control"}:
                return obj  # arm names: the spec's (payload-laden) names, set by _rename
            return self.mark(obj, path)
        return obj


def _filled(result_data: dict[str, Any]) -> tuple[dict[str, Any], Filler]:
    filler = Filler()
    data = filler.fill(_rename(copy.deepcopy(result_data), NAMES))
    for b in data["breakdowns"].values():  # the rows name their dimension as the mapping does
        for r in b:
            r.pop("dimension", None)
    return data, filler


def _spec(filler: Filler):
    d = _spec_dict()
    for arm in d["arms"]:
        arm["name"] = NAMES.get(arm["name"], arm["name"])
        arm["description"] = filler.mark("arm", f"spec.arms.{arm['name']}.description")
    d["comparisons"] = [[NAMES[a], NAMES[b]] for a, b in d["comparisons"]]
    for k in ("name", "owner", "hypothesis", "description", "hash_seed", "candidate_items"):
        d[k] = filler.mark(str(d.get(k) or k), f"spec.{k}")
    d["segments"] = [filler.mark("学生党", "spec.segments[0]")]
    return parse_spec(d)


def _page(result_data, history_data, lang: str = "zh"):
    """(page, figures, filler) with every field filled."""
    data, filler = _filled(result_data)
    data["samples"].append({"arm": NAMES["neural_generic"], "item_id": filler.mark("i", "sample.item_id"),
                            "text": filler.mark("好物", "sample.text"), "title": filler.mark("标题", "sample.title")})
    data["health"]["quarantine"][filler.mark("missing user_id", "quarantine reason")] = 3
    data["planned_users_source"] = filler.mark("mde", "planned_users_source")
    # the decision's sentences as the analysis writes them now: a code, its parameters, English text
    data["decision"]["messages"] = [{"code": "text_guardrail_failed",
                                     "params": {"arm": NAMES["neural_generic"],
                                                "rule": filler.mark("unfaithful_rate <= 0.02", "decision.messages.rule"),
                                                "value": 0.03},
                                     "text": filler.mark("Text guardrail failed", "decision.messages.text")}]
    spec = _spec(filler)
    history = [AnalysisResult.from_json(h) for h in _rename(copy.deepcopy(history_data), NAMES)]
    page, figs = render(spec, AnalysisResult.from_json(data), history=history, sql=payload(1), lang=lang)
    return page, figs, filler


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_field_of_the_result_or_spec_becomes_markup(result_data, history_data, lang):
    page, figs, filler = _page(result_data, history_data, lang)
    tags = _tags(page)
    assert not any(n == "img" for n, _ in tags), "an <img> payload became a tag"
    assert not any(k.startswith("on") for _, a in tags for k in a), "an event-handler attribute leaked"
    assert sum(1 for n, _ in tags if n == "script") == 2 + len(figs), "a <script> payload became a tag"
    assert page.count("</script>") == 2 + len(figs)
    for n in filler.where:
        assert payload(n) not in page
    shown = {n for n in filler.where if html.escape(payload(n)) in page or f"window.__xss={n}" in page}
    # the fields the issue lists are rendered (so their escaping is what this test checks)
    rendered = {filler.where[n] for n in shown}
    # (planned_users_source is filled too but no longer shown: the planning section renders the
    # plan's explanation through the message catalogue, in the report's language)
    for must in ("spec.name", "spec.owner", "spec.hypothesis", "quarantine reason", "sample.text"):
        assert must in rendered, f"{must} is not rendered any more: {sorted(rendered)[:20]}"
    assert "decision.messages.rule" in rendered  # a user-written rule inside a rendered sentence
    assert any(p.startswith(".text_guardrails") and p.endswith(".rule") for p in rendered)
    assert any(p.startswith(".guardrails") and p.endswith(".warning") for p in rendered) or not any(
        g.get("warning") for g in result_data["guardrails"])
    if lang == "en":  # the Chinese report counts the analysis's English notes instead of showing them
        assert any(p.startswith(".notes") for p in rendered)
    assert len(shown) >= 20, sorted(rendered)
    # every payload that reached the page did so as text: a handler only ever appears escaped
    assert not re.search(r"<img[^>]*onerror", page)


@pytest.mark.slow
@pytest.mark.browser
def test_no_payload_runs_in_a_browser(result_data, history_data, tmp_path, browser):
    page_html, figs, _ = _page(result_data, history_data)
    path = tmp_path / "report.html"
    path.write_text(page_html, encoding="utf-8")
    page = browser.new_page()
    try:
        page.goto(path.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        page.wait_for_timeout(500)
        assert page.locator(".js-plotly-plot").count() == len(figs)
        assert page.evaluate("typeof window.__xss") == "undefined", "a payload executed"
    finally:
        page.close()
