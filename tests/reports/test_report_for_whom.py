"""The "for whom" section (slice table, heatmap, policy) and the interaction table of the health
section: rendered from the result's blocks, escaped, and drawn in headless Chromium."""

from __future__ import annotations

import json

import numpy as np
import pytest

from abkit.result import AnalysisResult
from abkit.stats import SufficientStats
from abkit.stats.heterogeneity import SliceStats, explore_arms
from abkit.stats.interaction import interaction
from abkit.stats.policy import recommend
from experiments.analysis.analyze import clean_json
from reports.build import build_report, render, write_report

XSS = '<img src=x onerror="window.__xss=1">'
PERSONAS = ["学生党", "宝妈", f"上班族{XSS}"]


def _blocks(result_data: dict) -> dict:
    """Explorer, policy and interaction blocks from seeded slice sums (宝妈 responds to neural_personalized)."""
    rng = np.random.default_rng(1)
    tenure = ["new", "returning"]
    comps = {}
    base = {(p, t): rng.binomial(40_000, 0.05) for p in PERSONAS for t in tenure}
    for arm, boost in (("neural_generic", {}), ("neural_personalized", {"宝妈": 0.4})):
        cells = {(p, t): (SufficientStats(40_000, float(base[(p, t)]), float(base[(p, t)])),
                          SufficientStats(40_000, *[float(rng.binomial(40_000, 0.05 * (1.02 + boost.get(p, 0.0))))] * 2))
                 for p in PERSONAS for t in tenure}

        def add(parts):
            return SufficientStats(sum(s.n for s in parts), sum(s.sum_y for s in parts), sum(s.sum_y2 for s in parts))

        slices = [SliceStats(("segment",), (p,), add([cells[(p, t)][0] for t in tenure]),
                             add([cells[(p, t)][1] for t in tenure])) for p in PERSONAS]
        slices += [SliceStats(("segment", "tenure"), k, *v) for k, v in cells.items()]
        comps[arm] = (slices, add([v[0] for v in cells.values()]), add([v[1] for v in cells.values()]))
    explored = explore_arms(comps)
    pol = recommend(explored, control="control", dimension="segment", metric="ctr")
    inter = interaction({(a, b): SufficientStats(10_000, 500.0, 500.0) for a in ("control", "neural_generic")
                         for b in ("x", f"y{XSS}")}, experiment="reason_three_arm", other=f"other{XSS}",
                        control="control", treatment="neural_generic")
    data = dict(result_data)
    data["heterogeneity"] = {"metric": "ctr", "dimensions": ["segment", "tenure"], "note": "Exploratory.",
                             "arms": {a: e.to_dict() for a, e in explored.items()}}
    data["policy"] = pol.to_dict()
    data["health"] = {**data.get("health", {}), "interactions": [{**inter.to_dict(), "arm": "neural_generic"}]}
    return clean_json(data)


def test_section_tables_and_escaping(spec, result_data):
    data = _blocks(result_data)
    html = build_report(spec, AnalysisResult.from_json(data), lang="en")
    assert 'id="for_whom"' in html and "For whom (exploratory)" in html
    assert XSS not in html and "&lt;img src=x" in html
    assert "Per-segment policy" in html and "follow-up experiment" in html
    assert "Interaction with concurrent experiments" in html
    assert data["policy"]["assignments"]["宝妈"] == "neural_personalized"
    plain = build_report(spec, AnalysisResult.from_json(result_data), lang="en")
    assert 'id="for_whom"' not in plain  # no block, no section


@pytest.mark.slow
@pytest.mark.browser
def test_for_whom_section_in_the_browser(spec, result_data, tmp_path, browser):
    data = _blocks(result_data)
    result = AnalysisResult.from_json(data)
    path = write_report(tmp_path / "r.html", spec, result, lang="zh")
    _, figs = render(spec, result, lang="zh")
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('#for_whom .js-plotly-plot .main-svg').length > 0")
    section = page.locator("#for_whom")
    assert section.locator("table").count() >= 4  # 2 slice tables, their Q tests, the policy
    assert section.locator(".js-plotly-plot").count() == len([k for k in figs if k.startswith("slices_")]) == 2
    assert section.locator(".js-plotly-plot image").count() >= 1  # heatmaps draw an image
    assert "宝妈" in section.inner_text() and "neural_personalized" in section.inner_text()
    health = page.locator("#health").inner_text()
    assert "other<img" in health and "并行实验交互" in health  # escaped, shown as text
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert errors == []
    page.close()
    json.dumps(data, allow_nan=False)
