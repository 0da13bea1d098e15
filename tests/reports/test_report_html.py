"""The HTML page: self-contained, plotly.js once, every section present, every text escaped."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
from plotly.offline import get_plotlyjs

from abkit.result import AnalysisResult
from reports.build import build_report, render


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    p = _Tags()
    p.feed(page)
    return p.tags


def test_self_contained_with_plotly_inlined_once(spec, result, history):
    page, figs = render(spec, result, history=history)
    tags = _tags(page)
    for name, attrs in tags:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value.startswith(("http:", "https:", "//")), (name, attrs)
        assert not (name == "link" and attrs.get("rel") == "stylesheet"), "stylesheets must be inline"
    assert page.count(get_plotlyjs()[:2000]) == 1, "plotly.js must be inlined exactly once"
    scripts = [a for n, a in tags if n == "script"]
    assert all("src" not in a for a in scripts)
    # one config script + plotly.js + one script per figure, nothing else
    assert len(scripts) == 2 + len(figs)
    assert set(figs) == {"srm", "forest", "cumulative", "daily_ctr", "segments", "text_metrics", "text_features_ctr", "power"}
    size = len(page.encode("utf-8"))
    assert len(get_plotlyjs()) < size < len(get_plotlyjs()) + 600_000, size


def test_sections_in_order_with_banner_first(spec, result, history, sql):
    page = build_report(spec, result, history=history, sql=sql)
    ids = [a.get("id") for n, a in _tags(page) if n in ("section", "div") and a.get("id") in {
        "decision", "health", "metrics", "forest", "time", "segments", "text", "planning", "method"}]
    assert ids == ["decision", "health", "metrics", "forest", "time", "segments", "text", "planning", "method"]
    banner = page[page.index('id="decision"') - 40: page.index('id="health"')]
    assert "banner ship" in banner and "上线" in banner and "neural_personalized" in banner
    assert "放量计划" in banner and "5%" in banner and "100%" in banner
    assert "<details>" in page and "SELECT e.user_id" in page  # SQL appendix, collapsible


def test_flags_row_where_p_and_ci_disagree(spec, result):
    page = build_report(spec, result, lang="en")
    assert page.count("p-value and CI disagree") == 1  # conversion_rate: p = 0.0488, CI [-0.09%, +8.41%]
    assert "control mean is zero" in page


def test_english_labels_and_bad_lang(spec, result):
    page = build_report(spec, result, lang="en")
    assert "Ship" in page and "Data health" in page and "上线" not in page
    with pytest.raises(Exception, match="--lang"):
        build_report(spec, result, lang="fr")


def test_missing_optional_blocks_render(spec, result_data):
    minimal = {k: result_data[k] for k in ("experiment", "control", "window_utc", "users", "excluded_multi_arm_users",
                                           "srm", "metrics", "diversity", "decision")}
    page, figs = render(spec, AnalysisResult.from_json(minimal))
    assert "分析结果中没有此部分" in page  # absent blocks say so instead of failing
    assert "power" not in figs and "daily_ctr" not in figs  # no planning or daily block: nothing computed here
    page = build_report(spec, AnalysisResult.from_json({**minimal, "decision": {}, "metrics": []}))
    assert "暂无结论" in page


def test_every_text_is_escaped(xss_spec, xss_result, xss_history, xss_sql, payloads):
    page, figs = render(xss_spec, xss_result, history=xss_history, sql=xss_sql)
    tags = _tags(page)
    assert not any(n == "img" for n, _ in tags), "an <img> payload became a tag"
    assert not any(k.startswith("on") for _, a in tags for k in a), "an event-handler attribute leaked"
    assert sum(1 for n, _ in tags if n == "script") == 2 + len(figs), "a <script> payload became a tag"
    for p in (payloads["script"], payloads["img"], payloads["breakout"]):
        assert p not in page
    assert html.escape(payloads["script"]) in page  # shown as text in the banner, tables, samples
    assert html.escape(payloads["breakout"]) in page
    # inside plotly's JSON the arm names are \u-escaped: the only closing tags are the page's own
    assert page.count("</script>") == 2 + len(figs)
    assert page.count("window.__xss") == page.count("window.__xss=") > 0
    assert "&lt;script&gt;window.__xss=2&lt;\\u002fscript&gt;" in page  # arm name in a figure's JSON, escaped


def test_statistical_calls_are_read_from_the_result_not_recomputed(spec, result_data):
    """Flip the analysis' own calls while leaving the numbers: the page must follow the calls."""
    data = {**result_data}
    data["metrics"] = [{**m, "ci_disagrees": False} for m in result_data["metrics"]]
    page = build_report(spec, AnalysisResult.from_json(data), lang="en")
    assert "p-value and CI disagree" not in page  # the fixture's conversion_rate row disagrees by its numbers
    row = {**result_data["guardrails"][0], "non_inferior": False, "shown_worse": True}
    data["guardrails"] = [row]
    page = build_report(spec, AnalysisResult.from_json(data), lang="en")
    assert row["bound"] > -row["margin"]  # by its CI it would pass; the analysis said it was shown worse
    guard = page[page.index('id="text"'):]
    assert guard.count('<span class="bad">FAIL</span>') == 1 + sum(g["passed"] is False for g in data["text_guardrails"])
