"""The report of a result produced by `analyze` (a round trip through the JSON), for a demo-like
three-arm world: neural_generic drops CTR and revenue (harmful), neural_personalized lifts CTR but is
short of its planned sample. Checks the per-arm verdicts, the next step in Chinese, one sample size,
direction-aware significance and the cumulative chart — as text here, in Chromium below."""

from __future__ import annotations

import html
import json
import re

import pytest

from abkit.result import AnalysisResult
from abkit.spec import parse_spec
from abkit.warehouse import connect
from experiments.analysis.analyze import analyze
from experiments.ingest.files import ingest_files
from reports.build import build_report, write_report

ARMS = ("control", "neural_generic", "neural_personalized")
SPEC = parse_spec({
    "key": "demo_like", "arms": [{"name": a, "weight": 1} for a in ARMS], "start": "2026-11-01",
    "end": "2026-11-05", "timezone": "Asia/Shanghai", "primary_metric": "ctr", "mde": 0.05,
    "planned_users_per_arm": 3000, "comparisons": [["neural_personalized", "neural_generic"]],
    "guardrails": [{"metric": "revenue_per_user", "margin": 0.05}]})
# technical terms and names a Chinese reader sees in Latin letters; every other word must be Chinese
LATIN_OK = {"Asia", "Shanghai", "CI", "CUPED", "GMV", "MDE", "SQL", "SRM", "Welch", "Satterthwaite", "alpha",
            "delta", "holm", "pp", "vs", "p", "t", "e", "demo_like", *ARMS,  # e: 1.4e-10, t: Welch t
            "ctr", "cvr", "conversion_rate", "orders_per_user", "revenue_per_user"}


@pytest.fixture
def analyzed(tmp_path, world_logs) -> AnalysisResult:
    x, e = world_logs(2500, 11, click={"control": 0.30, "neural_generic": 0.27, "neural_personalized": 0.32},
                      revenue={"neural_generic": 0.7}, key="demo_like")
    db = tmp_path / "w.duckdb"
    with connect(db) as con:
        for table, frame in (("exposures", x), ("events", e)):
            frame.to_parquet(tmp_path / f"{table}.parquet", index=False)
            ingest_files(con, table, [str(tmp_path / f"{table}.parquet")])
        res = analyze(SPEC, con, dimensions=["platform"])
    data = json.loads(json.dumps(res.to_json(), allow_nan=False))
    back = AnalysisResult.from_json(data)
    assert back.to_json() == data  # the round trip is exact
    return back


def _text(page: str) -> str:
    body = page[page.index("<main>"):]
    body = re.sub(r"<script.*?</script>|<pre>.*?</pre>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_the_chinese_report_says_what_to_do_per_arm_in_chinese(analyzed):
    d = analyzed.decision
    assert d.action == "stop"
    verdicts = {v.arm: v for v in d.arms}
    assert verdicts["neural_generic"].verdict == "harmful"
    assert verdicts["neural_personalized"].verdict == "keep_running"
    page = build_report(SPEC, analyzed, lang="zh")
    text = _text(page)
    assert 'class="verdict-card harmful" data-arm="neural_generic"' in page
    assert "有害：应停止" in text and "继续运行" in text
    # the next step: stop the harmful arm, keep the other running N more days to the plan
    days = verdicts["neural_personalized"].days_to_go
    assert days is not None and days > 0
    assert "立即停止实验组「neural_generic」" in text and f"{days} 天" in text
    words = set(re.findall(r"[A-Za-z][A-Za-z_]*", text))
    assert words - LATIN_OK == set(), sorted(words - LATIN_OK)
    # one sample size: the planned number, wherever the report says "planned"
    planned = analyzed.planned_users_per_arm
    assert planned == 3000 == analyzed.planning.planned_users_per_arm  # type: ignore[union-attr]
    assert all(a.users_needed == planned for a in analyzed.planning.arms)  # type: ignore[union-attr]
    assert all(v.planned_users == planned for v in d.arms)
    assert f'data-planned="{planned}"' in page
    numbers = {int(n.replace(",", "")) for n in re.findall(r"计划每组\s*([\d,]+)", text)}
    assert numbers == {planned}


def test_significantly_worse_is_red_and_never_ticked(analyzed):
    bad = [r for r in analyzed.metrics if r.metric == "ctr" and r.arm == "neural_generic" and r.baseline == "control"][0]
    assert bad.significance == "worse" and bad.significant
    page = build_report(SPEC, analyzed, lang="zh")
    assert page.count("✘ 显著更差") >= 1
    row = page[page.index("neural_generic<br><small>vs control"):][:3000]
    row = row[:row.index("</tr>")]
    assert "✘ 显著更差" in row and "✔" not in row
    assert "显著更差" not in build_report(SPEC, analyzed, lang="en")


@pytest.mark.slow
@pytest.mark.browser
def test_demo_like_report_in_chromium(analyzed, tmp_path, browser):
    path = write_report(tmp_path / "r.html", SPEC, analyzed, lang="zh")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    try:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_function("document.querySelectorAll('#fig-cumulative .main-svg').length > 0")
        assert errors == []
        # per-arm verdicts, near the top, the harmful arm in red
        cards = page.locator(".verdict-card")
        assert cards.count() == 2
        badge = page.locator('.verdict-card[data-arm="neural_generic"] .badge')
        assert badge.inner_text() == "有害：应停止"
        assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(207, 34, 46)"
        assert page.locator("#verdicts").bounding_box()["y"] < page.locator("#health").bounding_box()["y"]
        # an actionable next step in Chinese
        step = page.locator(".next-step").inner_text()
        assert "立即停止实验组「neural_generic」" in step and "neural_personalized" in step and "天" in step
        # one sample size everywhere
        planned = f"{analyzed.planned_users_per_arm:,}"
        assert planned in page.locator("#planned-users").inner_text()
        assert planned in page.locator('.verdict-card[data-arm="neural_personalized"]').inner_text()
        assert planned in step
        # the cumulative chart: one point per local day for each arm
        xs = page.evaluate("document.getElementById('fig-cumulative').data"
                           ".filter(t => t.mode === 'lines+markers').map(t => t.x)")
        days = sorted({c.date for c in analyzed.cumulative})
        assert len(xs) == 2 and all(list(x) == days for x in xs) and len(days) >= 4
    finally:
        page.close()
