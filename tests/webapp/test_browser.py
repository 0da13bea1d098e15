"""The app in headless Chromium: a PM goes from nothing to a launched, analysed and decided experiment.

Also: payloads in names and texts stay inert on every page; a write without the token is refused.
Screenshots of the list, the form and the experiment page (desktop and mobile) go to
$ABKIT_SCREENSHOTS when set (docs/img in the repository), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from abkit.spec import load_spec
from abkit.warehouse import open_warehouse

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
]
DESKTOP = {"width": 1366, "height": 900}
MOBILE = {"width": 390, "height": 844}


class Watch:
    """A page with its JS errors and any request that leaves the app's own origin."""

    def __init__(self, browser, base: str, viewport=DESKTOP) -> None:
        self.page = browser.new_page(viewport=viewport)
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.outside.append(r.url)
                     if not r.url.startswith((base, "data:", "blob:", "about:")) else None)
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def check(self) -> None:
        assert self.errors == [] and self.outside == [] and self.dialogs == []
        assert self.page.evaluate("typeof window.__xss") == "undefined", "an XSS payload executed"


def _shots_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("ABKIT_SCREENSHOTS") or tmp_path / "shots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _shoot(browser, base: str, url: str, name: str, out: Path) -> None:
    for label, viewport in (("desktop", DESKTOP), ("mobile", MOBILE)):
        w = Watch(browser, base, viewport)
        w.page.goto(base + url)
        w.page.wait_for_load_state("networkidle")
        w.page.screenshot(path=str(out / f"ui-{name}-{label}.png"), full_page=name != "experiment")
        w.check()
        w.page.close()


def _wait_job(page, kind: str, timeout_s: int = 300) -> None:
    """The job polls; when it finishes the page reloads and shows it done."""
    page.wait_for_selector(f'[data-kind="{kind}"][data-job="done"], [data-kind="{kind}"][data-job="failed"]',
                           timeout=timeout_s * 1000)
    assert page.locator(f'[data-kind="{kind}"][data-job="done"]').count() == 1, page.locator("#job").inner_text()


def test_pm_creates_launches_analyses_and_ships(browser, serve, tmp_path: Path) -> None:
    db, specs = tmp_path / "abkit.duckdb", tmp_path / "specs"
    specs.mkdir()
    with serve(db, specs, "--user", "pm-alice", "--lang", "en") as base:
        w = Watch(browser, base)
        page = w.page
        page.goto(base + "/")
        page.click("text=New experiment")
        page.fill("input[name=key]", "checkout_reasons")
        page.fill("input[name=name]", "Checkout reasons")
        page.fill("input[name=owner]", "growth")
        page.select_option("select[name=arms-1-generator]", "template")
        page.fill("input[name=arms-1-weight]", "-0.5")
        page.fill("input[name=start]", "2026-11-01")
        page.fill("input[name=end]", "2026-11-08")
        page.fill("input[name=mde]", "0.05")
        page.fill("textarea[name=text_guardrails]", "unfaithful_rate <= 0.05")
        page.click("#save")
        error = page.locator("#err-arms-1-weight")
        assert error.is_visible() and "arms[1].weight" in error.inner_text()
        assert page.locator("input[name=arms-1-weight]").input_value() == "-0.5"  # nothing the PM typed is lost
        page.fill("input[name=arms-1-weight]", "0.5")
        page.wait_for_selector("#calc-users-per-arm")  # the calculator follows the form
        page.click("#save")
        page.wait_for_url(f"{base}/exp/checkout_reasons?saved=1")
        assert load_spec(specs / "checkout_reasons.yaml").weights == [0.5, 0.5]

        page.goto(base + "/")
        row = page.locator('tr[data-key="checkout_reasons"]')
        assert row.locator('[data-state="draft"]').count() == 1

        page.click('a.key:text("checkout_reasons")')
        launch = page.locator('form[data-action="launch"]')
        launch.locator("input[name=why]").fill("plan reviewed")
        launch.locator("input[name=confirm]").check()
        launch.locator("button").click()
        page.wait_for_selector('.titleside [data-state="running"]')

        page.fill("input[name=users]", "6000")
        page.click("#simulate")
        _wait_job(page, "simulate")
        page.click("#run-analysis")
        _wait_job(page, "analyze")
        badge = page.locator(".titleside [data-decision]")
        assert badge.count() == 1 and badge.get_attribute("data-decision") in ("ship", "keep_running", "stop", "no_decision")
        assert page.locator(".report #metrics").count() == 1  # the report's sections are on the page
        page.wait_for_function("document.querySelectorAll('.report .js-plotly-plot .main-svg').length > 0")
        with open_warehouse(db, read_only=True) as con:
            stored = con.execute("SELECT json_extract(result, '$.decision') FROM results").fetchone()[0]
        if '"arms"' in stored:  # per-arm verdicts, when the analysis gives them
            assert page.locator("#verdicts [data-verdict]").count() >= 1

        ship = page.locator('form[data-action="ship"]')
        ship.locator("select[name=arm]").select_option("treatment")
        ship.locator("input[name=why]").fill("ctr up, guardrails fine")
        ship.locator("input[name=confirm]").check()
        ship.locator("button").click()
        page.wait_for_selector('.titleside [data-state="shipped"]')
        audit = page.locator("#audit tbody tr").first.inner_text()
        assert "pm-alice" in audit and "ship arm treatment: ctr up, guardrails fine" in audit
        with page.expect_download() as dl:
            page.click("text=Download the HTML report")
        assert dl.value.suggested_filename == "checkout_reasons-report.html"
        w.check()

        shots = _shots_dir(tmp_path)
        _shoot(browser, base, "/", "list", shots)
        _shoot(browser, base, "/new", "form", shots)
        _shoot(browser, base, "/exp/checkout_reasons", "experiment", shots)
    with open_warehouse(db, read_only=True) as con:
        rows = con.execute("SELECT state, actor FROM lifecycle WHERE experiment = 'checkout_reasons' "
                           "ORDER BY changed_at").fetchall()
    assert rows == [("draft", "pm-alice"), ("running", "pm-alice"), ("shipped", "pm-alice")]


def test_payloads_stay_inert_on_every_page(browser, serve, tmp_path: Path, h) -> None:
    x = h.XSS
    db, specs = tmp_path / "abkit.duckdb", tmp_path / "specs"
    specs.mkdir()
    with serve(db, specs) as base:
        w = Watch(browser, base)
        page = w.page
        page.goto(base + "/new")
        page.fill("input[name=key]", "xss_exp")
        page.fill("input[name=name]", x)
        page.fill("input[name=owner]", x)
        page.fill("input[name=arms-1-name]", x)
        page.select_option("select[name=arms-1-generator]", "template")
        page.fill("input[name=start]", "2026-11-01")
        page.fill("input[name=end]", "2026-11-08")
        page.click("#save")
        page.wait_for_url(f"{base}/exp/xss_exp?saved=1")
        launch = page.locator('form[data-action="launch"]')
        launch.locator("input[name=why]").fill(x)
        launch.locator("input[name=confirm]").check()
        launch.locator("button").click()
        page.wait_for_selector('.titleside [data-state="running"]')
        h.expose_text(db, "xss_exp", x, x)  # a model-written text carrying the payload, exposed
        h.store(db, h.payload_result("xss_exp", x))
        page.goto(base + "/exp/xss_exp/review")
        form = page.locator("form.label-form").first
        form.locator("input[value=banned]").check()
        form.locator("input[name=note]").fill(x)
        form.locator("button").click()
        page.wait_for_load_state("networkidle")
        for url in ("/", "/exp/xss_exp", "/exp/xss_exp/review", "/exp/xss_exp/edit"):
            page.goto(base + url)
            page.wait_for_load_state("networkidle")
            assert x in page.inner_text("body") or url == "/exp/xss_exp/edit", url  # shown as text
            w.check()
        assert page.locator("input[name=name]").input_value() == x  # the form shows it as a value, inert


def test_a_write_without_the_token_is_refused(browser, serve, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "experiments" / "reason_three_arm.yaml", specs)
    db = tmp_path / "abkit.duckdb"
    with serve(db, specs, "--token", "dana:t0ken") as base:
        w = Watch(browser, base)
        page = w.page
        page.goto(base + "/exp/reason_three_arm")
        assert page.locator(".readonly").is_visible()
        launch = page.locator('form[data-action="launch"]')
        launch.locator("input[name=why]").fill("no token")
        launch.locator("input[name=confirm]").check()
        launch.locator("button").click()
        assert "sign in" in page.inner_text(".problem").lower() or "登录" in page.inner_text(".problem")
        page.goto(base + "/login")
        page.fill("input[name=token]", "dana:t0ken")
        page.click("button[type=submit]")
        page.goto(base + "/exp/reason_three_arm")
        launch = page.locator('form[data-action="launch"]')
        launch.locator("input[name=why]").fill("signed in")
        launch.locator("input[name=confirm]").check()
        launch.locator("button").click()
        page.wait_for_selector('.titleside [data-state="running"]')
        w.check()
    with open_warehouse(db, read_only=True) as con:
        assert con.execute("SELECT state, actor, note FROM lifecycle").fetchall() == [
            ("running", "dana", "signed in")]
