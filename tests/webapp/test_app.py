"""The app over HTTP (no browser): form → file → list → lifecycle with audit; token, CSRF and escaping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from abkit.spec import load_spec
from abkit.warehouse import connect


def _post(client, url: str, data: dict, page: str = "/") -> object:
    csrf = client.cookies.get("abkit_csrf") or _csrf(client, page)
    return client.post(url, data={**data, "csrf": csrf}, follow_redirects=False)


def _csrf(client, page: str) -> str:
    import re

    html = client.get(page).text
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_create_with_an_error_then_fix_then_draft_in_list(client, specs_dir: Path, h) -> None:
    _csrf(client, "/new")
    bad = _post(client, "/save", h.form_fields(**{"arms-1-name": "control"}))
    assert bad.status_code == 422
    assert 'id="err-arms-1-name"' in bad.text and "arms[1].name: duplicate arm name &#39;control&#39;" in bad.text
    assert not (specs_dir / "pm_flow.yaml").exists()
    assert 'value="PM flow"' in bad.text  # what the user typed survives the error
    ok = _post(client, "/save", h.form_fields())
    assert ok.status_code == 303 and ok.headers["location"].startswith("/exp/pm_flow")
    spec = load_spec(specs_dir / "pm_flow.yaml")
    assert spec.arm_names == ["control", "treatment"] and spec.guardrails[0].margin == 0.05
    assert spec.secondary == ["cvr", "revenue_per_user"]
    listing = client.get("/?state=draft").text
    assert 'data-key="pm_flow"' in listing and 'data-state="draft"' in listing
    assert 'data-key="reason_three_arm"' not in client.get("/?state=running").text


def test_new_key_that_exists_is_refused(client, specs_dir: Path, h) -> None:
    _csrf(client, "/new")
    r = _post(client, "/save", h.form_fields(key="reason_three_arm"))
    assert r.status_code == 422 and "already exists" in r.text
    assert "growth-team" in (specs_dir / "reason_three_arm.yaml").read_text(encoding="utf-8")


def test_lifecycle_actions_are_confirmed_checked_and_audited(client, db: Path, specs_dir: Path, h) -> None:
    _csrf(client, "/new")
    _post(client, "/save", h.form_fields())
    unconfirmed = _post(client, "/exp/pm_flow/action", {"action": "launch", "why": "go"})
    assert unconfirmed.status_code == 400
    no_reason = _post(client, "/exp/pm_flow/action", {"action": "launch", "why": " ", "confirm": "on"})
    assert no_reason.status_code == 400
    wrong = _post(client, "/exp/pm_flow/action", {"action": "stop", "why": "x", "confirm": "on"})
    assert wrong.status_code == 400 and "cannot stop an experiment that is draft" in wrong.text
    assert _post(client, "/exp/pm_flow/action", {"action": "launch", "why": "plan approved", "confirm": "on"}
                 ).status_code == 303
    bad_arm = _post(client, "/exp/pm_flow/action", {"action": "ship", "arm": "control", "why": "x", "confirm": "on"})
    assert bad_arm.status_code == 400  # the control is no change to ship
    assert _post(client, "/exp/pm_flow/action", {"action": "ship", "arm": "treatment", "why": "won", "confirm": "on"}
                 ).status_code == 303
    con = connect(db, read_only=True)
    rows = con.execute("SELECT state, actor, note FROM lifecycle WHERE experiment = 'pm_flow' "
                       "ORDER BY changed_at, rowid").fetchall()
    con.close()
    assert rows == [("draft", "alice", "spec saved to pm_flow.yaml"), ("running", "alice", "plan approved"),
                    ("shipped", "alice", "ship arm treatment: won")]
    page = client.get("/exp/pm_flow").text
    assert "ship arm treatment: won" in page and "alice" in page
    status = subprocess.run([sys.executable, "-m", "abkit", "status", "--db", str(db)], capture_output=True, text=True)
    assert status.returncode == 0 and any(ln.split()[:2] == ["pm_flow", "shipped"] for ln in status.stdout.splitlines())
    # once launched, the locked fields are disabled in the form and ignored when posted
    edit = client.get("/exp/pm_flow/edit").text
    assert 'name="arms-0-weight" value="0.5"' in edit and "disabled" in edit
    _post(client, "/save", h.form_fields(is_new="0", original_key="pm_flow", **{"arms-0-weight": "0.7",
                                                                                "arms-1-weight": "0.3"}))
    assert load_spec(specs_dir / "pm_flow.yaml").weights == [0.5, 0.5]


def test_ship_needs_an_arm_of_the_spec(client, h) -> None:
    _csrf(client, "/new")
    _post(client, "/save", h.form_fields())
    _post(client, "/exp/pm_flow/action", {"action": "launch", "why": "go", "confirm": "on"})
    r = _post(client, "/exp/pm_flow/action", {"action": "ship", "arm": "nonexistent", "why": "x", "confirm": "on"})
    assert r.status_code == 400 and "choose the treatment arm to ship" in r.text


def test_writes_need_the_token_when_one_is_set(db: Path, specs_dir: Path, h) -> None:
    with h.make_client(db, specs_dir, token="carol:s3cret") as c:
        _csrf(c, "/new")
        assert "/login" in c.get("/").text  # the page says changes need signing in
        refused = _post(c, "/save", h.form_fields())
        assert refused.status_code == 403 and not (specs_dir / "pm_flow.yaml").exists()
        refused = _post(c, "/exp/reason_three_arm/action", {"action": "launch", "why": "x", "confirm": "on"})
        assert refused.status_code == 403
        assert _post(c, "/login", {"token": "wrong"}).status_code == 403
        assert _post(c, "/login", {"token": "carol:s3cret"}).status_code == 303
        assert _post(c, "/save", h.form_fields()).status_code == 303
        assert _post(c, "/exp/pm_flow/action", {"action": "launch", "why": "ok", "confirm": "on"}).status_code == 303
    con = connect(db, read_only=True)
    assert con.execute("SELECT actor FROM lifecycle WHERE state = 'running'").fetchall() == [("carol",)]
    con.close()
    with h.make_client(db, specs_dir, token="s3cret") as c:  # a script with the bearer header
        r = c.post("/exp/pm_flow/action", data={"action": "stop", "why": "script", "confirm": "on"},
                   headers={"authorization": "Bearer wrong"}, follow_redirects=False)
        assert r.status_code == 403
        r = c.post("/exp/pm_flow/action", data={"action": "stop", "why": "script", "confirm": "on"},
                   headers={"authorization": "Bearer s3cret"}, follow_redirects=False)
        assert r.status_code == 303


def test_forms_without_the_csrf_value_are_refused(client, specs_dir: Path, h) -> None:
    client.get("/new")
    r = client.post("/save", data=h.form_fields(), follow_redirects=False)
    assert r.status_code == 403 and not (specs_dir / "pm_flow.yaml").exists()
    r = client.post("/save", data={**h.form_fields(), "csrf": "x" * 43}, follow_redirects=False)
    assert r.status_code == 403


def test_list_shows_decision_badges_verdicts_and_health(client, db: Path, h) -> None:
    stop = {"code": "next_stop_arms", "params": {"arms": ["neural_generic"]}, "text": "Stop neural_generic now."}
    worse = {"code": "arm_harmful_primary", "params": {"arm": "neural_generic", "metric": "ctr", "lift": -0.03,
                                                       "p": 0.001, "p_term": "adjusted p"}, "text": "ctr worse"}
    result = h.stored_result("reason_three_arm", action="stop", arm=None, next_step=[stop],
                             arms=[{"arm": "neural_generic", "verdict": "harmful", "reasons": [worse]},
                                   {"arm": "neural_personalized", "verdict": "ship_candidate", "reasons": []}])
    result["srm"] = {"p_value": 1e-6, "ok": False}
    h.store(db, result)
    page = client.get("/").text
    row = page[page.index('data-key="reason_three_arm"'):]
    row = row[:row.index("</tr>")]
    assert 'data-decision="stop"' in row and 'data-verdict="harmful"' in row and 'data-verdict="ship_candidate"' in row
    assert "立即停止实验组「neural_generic」" in row and "SRM" in row and "2,380" in row  # rendered in the page's language
    exp = client.get("/exp/reason_three_arm").text
    assert 'data-verdict="harmful"' in exp and "neural_generic" in exp and "显著" in exp


def test_every_user_and_model_string_is_escaped(client, db: Path, specs_dir: Path, h) -> None:
    x = h.XSS
    _csrf(client, "/new")
    r = _post(client, "/save", h.form_fields(key="xss_exp", name=x, owner=x, hypothesis=x,
                                             **{"arms-1-name": x}))
    assert r.status_code == 303, r.text
    h.store(db, h.payload_result("xss_exp", x))
    _post(client, "/exp/xss_exp/action", {"action": "launch", "why": x, "confirm": "on"})
    h.expose_text(db, "xss_exp", x, x)
    review_page = client.get("/exp/xss_exp/review").text
    assert review_page.count("&lt;script&gt;window.__xss=1&lt;/script&gt;") >= 2  # sample text and arm are shown
    _post(client, "/exp/xss_exp/review/label", {"arm": x, "item_id": "i1", "text": x, "label": "banned", "note": x})
    for url in ("/", "/exp/xss_exp", "/exp/xss_exp/edit", "/exp/xss_exp/review", "/exp/xss_exp/report.html"):
        html = client.get(url).text
        assert "<script>window.__xss" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html or "\\u003cscript\\u003e" in html, url


def test_review_labels_are_stored_and_give_error_rates(client, db: Path, specs_dir: Path, h) -> None:
    import math

    _csrf(client, "/new")
    _post(client, "/save", h.form_fields())
    con = connect(db)
    for i in range(4):
        con.execute("INSERT INTO items (item_id, category, brand, title, price, discount, attributes, ingested_at) "
                    "VALUES (?, 'shoes', 'b', 't', 99, 0, '{}', now())", [f"i{i}"])
        for arm in ("control", "treatment"):
            con.execute("INSERT INTO reasons (reason_id, experiment, arm, item_id, text, ingested_at) "
                        "VALUES (?, 'pm_flow', ?, ?, ?, now())", [f"r{i}{arm}", arm, f"i{i}", f"文案 {arm} {i}"])
            con.execute("INSERT INTO exposures (event_id, ts, experiment, user_id, item_id, arm, reason_id, ingested_at) "
                        "VALUES (?, TIMESTAMP '2026-11-02 10:00:00', 'pm_flow', 'u1', ?, ?, ?, now())",
                        [f"e{i}{arm}", f"i{i}", arm, f"r{i}{arm}"])
    con.close()
    page = client.get("/exp/pm_flow/review").text
    assert page.count('class="label-form"') == 8  # every exposed text of both arms (fewer than the per-arm sample)
    for i, label in enumerate(("faithful", "banned", "contradicting")):
        r = _post(client, "/exp/pm_flow/review/label", {"arm": "treatment", "item_id": f"i{i}",
                                                       "text": f"文案 treatment {i}", "label": label})
        assert r.status_code == 303
    # relabelling replaces the earlier label; an unknown label is refused
    _post(client, "/exp/pm_flow/review/label", {"arm": "treatment", "item_id": "i2", "text": "文案 treatment 2",
                                                "label": "faithful"})
    assert _post(client, "/exp/pm_flow/review/label", {"arm": "treatment", "item_id": "i0", "text": "x",
                                                       "label": "great"}).status_code == 400
    page = client.get("/exp/pm_flow/review").text
    row = page[page.index('data-arm="treatment"'):]
    row = row[:row.index("</tr>")]
    cells = [c.split("<")[0] for c in row.split('<td class="num">')[1:]]
    assert cells[:6] == ["3", "2", "0", "0", "0", "1"]  # labelled, faithful, contradicting, ..., banned
    n, k, z = 3, 1, 1.959963984540054  # Wilson interval, closed form
    centre, half = (k + z * z / 2) / (n + z * z), z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    assert f"33.3% [{(centre - half) * 100:.1f}%, {(centre + half) * 100:.1f}%]" in row
    con = connect(db, read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT labeler) FROM text_labels").fetchone() == (4, 1)
    con.close()


def test_missing_things_get_a_one_line_page_not_a_traceback(client, h) -> None:
    assert client.get("/exp/nope/edit").status_code == 404
    for url in ("/exp/nope/review", "/exp/nope/report.html"):
        r = client.get(url)
        assert r.status_code == 400 and "nope: needs a valid spec file" in r.text and "Traceback" not in r.text
    r = client.get("/exp/reason_three_arm/report.html")
    assert r.status_code == 400 and "no analysis result yet" in r.text


def test_a_list_without_a_warehouse_shows_the_specs(tmp_path: Path, specs_dir: Path, h) -> None:
    with h.make_client(tmp_path / "not-yet.duckdb", specs_dir) as c:
        page = c.get("/")
        assert page.status_code == 200 and 'data-key="reason_three_arm"' in page.text
    assert not (tmp_path / "not-yet.duckdb").exists()  # reading never creates it


def test_a_warehouse_held_by_another_writer_gives_a_retrying_busy_page(client, db: Path, monkeypatch) -> None:
    import webapp.store

    monkeypatch.setattr(webapp.store, "RETRY_SECONDS", 0.3)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ok', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        r = client.get("/exp/reason_three_arm")
        assert r.status_code == 503 and 'http-equiv="refresh"' in r.text and "busy" in r.text
    finally:
        holder.kill()
        holder.wait()
    assert client.get("/exp/reason_three_arm").status_code == 200  # and it recovers once the writer is gone


def test_ship_starts_the_rollout_phase_shown_on_the_page_and_in_status(client, db: Path, specs_dir: Path, h) -> None:
    import yaml

    _csrf(client, "/new")
    _post(client, "/save", h.form_fields())
    path = specs_dir / "pm_flow.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**data, "rollout": {"steps": [0.05, 0.5, 1.0]}}, allow_unicode=True),
                    encoding="utf-8")
    _post(client, "/exp/pm_flow/action", {"action": "launch", "why": "go", "confirm": "on"})
    assert 'id="ship-state"' not in client.get("/exp/pm_flow").text
    assert _post(client, "/exp/pm_flow/action", {"action": "ship", "arm": "treatment", "why": "won", "confirm": "on"}
                 ).status_code == 303
    con = connect(db, read_only=True)
    steps = con.execute("SELECT phase, coverage, hash_seed, shipped_arm, actor FROM coverage_steps "
                        "WHERE experiment = 'pm_flow'").fetchall()
    audit = con.execute("SELECT state, actor, note FROM lifecycle WHERE experiment = 'pm_flow' "
                        "ORDER BY changed_at DESC, rowid DESC LIMIT 1").fetchone()
    con.close()
    assert steps == [(1, 0.05, "pm_flow", "treatment", "alice")]  # the plan's first step
    assert audit == ("shipped", "alice", "ship arm treatment: won")
    page = client.get("/exp/pm_flow").text
    assert 'id="ship-state" data-arm="treatment" data-coverage="0.05"' in page and "5%" in page
    status = subprocess.run([sys.executable, "-m", "abkit", "status", "--db", str(db)], capture_output=True, text=True)
    assert "pm_flow" in status.stdout and "shipped" in status.stdout and "arm treatment at 5% (phase 1)" in status.stdout
    again = _post(client, "/exp/pm_flow/action", {"action": "ship", "arm": "treatment", "why": "x", "confirm": "on"})
    assert again.status_code == 400  # shipped already: no second phase


def test_ship_without_a_plan_goes_to_everyone_and_needs_a_valid_spec(client, db: Path, specs_dir: Path, h) -> None:
    _csrf(client, "/new")
    _post(client, "/save", h.form_fields())
    _post(client, "/exp/pm_flow/action", {"action": "launch", "why": "go", "confirm": "on"})
    path = specs_dir / "pm_flow.yaml"
    good = path.read_text(encoding="utf-8")
    path.write_text("key: pm_flow\narms: [oops\n", encoding="utf-8")
    broken = _post(client, "/exp/pm_flow/action", {"action": "ship", "arm": "treatment", "why": "x", "confirm": "on"})
    assert broken.status_code == 400 and "valid spec" in broken.text
    path.write_text(good, encoding="utf-8")
    assert _post(client, "/exp/pm_flow/action", {"action": "ship", "arm": "treatment", "why": "won", "confirm": "on"}
                 ).status_code == 303
    con = connect(db, read_only=True)
    assert con.execute("SELECT phase, coverage, shipped_arm FROM coverage_steps").fetchall() == [(1, 1.0, "treatment")]
    assert con.execute("SELECT count(*) FROM lifecycle WHERE state = 'shipped'").fetchone() == (1,)
    con.close()
