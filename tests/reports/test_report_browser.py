"""The report in a real browser (headless Chromium): no JS errors, figures drawn, payloads inert, Chinese as text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reports.build import render, write_report

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
]


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    # errors, and plotly.js's warnings about colours (e.g. "Invalid color specifier: Array(n)")
    page.on("console", lambda m: errors.append(f"console: {m.text}")
            if m.type == "error" or "color" in m.text.lower() else None)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
    page.wait_for_timeout(500)
    return page, errors, requests


def test_report_renders_inert_and_readable(browser, tmp_path, xss_spec, xss_result, xss_history, xss_sql, payloads):
    path = tmp_path / "report.html"
    _, figs = render(xss_spec, xss_result, history=xss_history, sql=xss_sql)
    write_report(path, xss_spec, xss_result, history=xss_history, sql=xss_sql)
    page, errors, requests = _open(browser, path)
    try:
        assert errors == []
        assert requests == [], "the report must not touch the network"
        plots = page.locator(".js-plotly-plot").count()
        assert plots == len(figs)
        assert page.locator(".js-plotly-plot .main-svg").count() >= len(figs)
        drawn = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                              ".map(d => d.querySelectorAll('g.trace').length + d.querySelectorAll('image').length)")
        assert all(n > 0 for n in drawn), drawn  # every figure drew its traces (heatmaps draw an image)
        assert page.evaluate("typeof window.__xss") == "undefined", "an XSS payload executed"
        assert page.locator("img").count() == 0
        text = page.evaluate("document.body.innerText")
        for label in ("上线", "数据健康", "点击率 (ctr)", "放量计划", "文案样例", "功效与样本量"):
            assert label in text
        assert payloads["script"] in text and payloads["img"] in text  # shown as text, not markup
        svg_text = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot svg text')).map(t => t.textContent).join('|')")
        assert payloads["arm_script"] in svg_text  # arm names in legends are literal text
        assert "双11" in svg_text  # the promotion day is flagged on the daily trend
        # the decision banner is the first thing on screen
        banner = page.locator("#decision").bounding_box()
        health = page.locator("#health").bounding_box()
        assert banner["y"] < 200 and banner["y"] < health["y"]
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
    finally:
        page.close()


def test_english_report_opens_without_errors(browser, tmp_path, spec, result, history, sql):
    path = write_report(tmp_path / "en.html", spec, result, history=history, lang="en", sql=sql)
    page, errors, _ = _open(browser, path)
    try:
        assert errors == []
        assert "Ship" in page.evaluate("document.querySelector('#decision').innerText")
        page.click("#method summary >> nth=1")  # the SQL appendix opens
        assert page.locator("#method pre").first.is_visible()
    finally:
        page.close()


def test_png_export_without_downloading_a_browser(tmp_path, result_data):
    """`abkit report --png` end to end, in its own process (playwright's sync API allows one per thread)."""
    pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    src = tmp_path / "result.json"
    src.write_text(json.dumps(result_data, ensure_ascii=False), encoding="utf-8")
    spec = Path(__file__).resolve().parents[2] / "experiments" / "reason_three_arm.yaml"
    cmd = [sys.executable, "-c", "import abkit.cli.report; from abkit.cli.app import app; app()", "report", str(spec),
           "--db", str(tmp_path / "none.duckdb"), "--result", str(src), "--out", str(tmp_path / "r.html"),
           "--png", str(tmp_path / "png")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert {"forest.png", "daily_ctr.png", "segments.png", "power.png"} <= set(pngs)
    data = (tmp_path / "png" / "forest.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000
    assert int.from_bytes(data[16:20], "big") == 2 * 1100  # width at scale 2
