"""abkit lint-reasons and abkit review-sample, end to end through the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from typer.testing import CliRunner

from abkit.cli import app

runner = CliRunner()


def _items_file(tmp_path, items):
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(it, ensure_ascii=False) for it in items), encoding="utf-8")
    return path


def test_lint_reasons_exit_codes(tmp_path, items):
    items_path = _items_file(tmp_path, items)
    good = tmp_path / "good.csv"
    pd.DataFrame({"item_id": ["pb1", "tee"], "text": ["10000mAh，轻薄", "纯棉夏天穿，8折"]}).to_csv(good, index=False)
    r = runner.invoke(app, ["lint-reasons", str(good), "--items", str(items_path)])
    assert r.exit_code == 0, r.output
    assert "0 fail" in r.output

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"item_id": ["pb1", "pb1", "tee", "00123"],
                  "text": ["最好的充电宝", "20000mAh", "纯棉", "ＮＯ．１"]}).to_csv(bad, index=False)
    out_json = tmp_path / "lint.json"
    r = runner.invoke(app, ["lint-reasons", str(bad), "--items", str(items_path), "--json", str(out_json)])
    assert r.exit_code == 1, r.output
    assert "bad.csv:1: FAIL" in r.output and "最好" in r.output
    assert "bad.csv:2: FAIL" in r.output and "20000mAh" in r.output
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert report["failed"] == 3
    assert any(p["item_id"] == "00123" and "item not in catalog" in " ".join(p["problems"]) for p in report["problems"])


def test_lint_reasons_without_items_and_errors(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"text": "首页推荐，第一次买"}\n{"text": "绝对好用"}\n', encoding="utf-8")
    r = runner.invoke(app, ["lint-reasons", str(f)])
    assert r.exit_code == 1 and "1 fail" in r.output
    nocol = tmp_path / "x.csv"
    nocol.write_text("item_id,body\n1,hi\n", encoding="utf-8")
    r = runner.invoke(app, ["lint-reasons", str(nocol)])
    assert r.exit_code == 2 and "missing column 'text'" in r.output
    r = runner.invoke(app, ["lint-reasons", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2


def _db(tmp_path, items):
    from abkit.warehouse import connect

    db = tmp_path / "w.duckdb"
    con = connect(db)
    now = dt.datetime(2026, 11, 2)
    texts = {"control": ["10000mAh，轻薄", "纯棉夏天穿", "SPF50+清爽", "轻薄好带"],
             "neural": ["最好的充电宝", "纯棉，限时7折", "SPF30防晒", "真丝面料"]}
    item_of = ["pb1", "tee", "sun", "pb1"]
    rid = 0
    for arm, ts in texts.items():
        for t, it in zip(ts, item_of, strict=True):
            rid += 1
            con.execute("INSERT INTO reasons (reason_id, experiment, arm, item_id, segment, text, ingested_at) "
                        "VALUES (?, 'reason_gen_v1', ?, ?, NULL, ?, ?)", [f"r{rid}", arm, it, t, now])
            for u in range(3):
                con.execute("INSERT INTO exposures (event_id, ts, experiment, user_id, item_id, arm, reason_id, ingested_at) "
                            "VALUES (?, ?, 'reason_gen_v1', ?, ?, ?, ?, ?)",
                            [f"e{rid}_{u}", now, f"u{arm}{u}", it, arm, f"r{rid}", now])
    for it in items:
        con.execute("INSERT INTO items (item_id, category, brand, title, price, discount, attributes, ingested_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [it["item_id"], it["category"], it["brand"], it["title"], it["price"], it["discount"],
                     json.dumps(it["attributes"], ensure_ascii=False), now])
    con.close()
    return db


def test_review_sample_and_labels(tmp_path, items):
    db = _db(tmp_path, items)
    out = tmp_path / "sample.csv"
    spec = "experiments/reason_gen_v1.yaml"
    r = runner.invoke(app, ["review-sample", spec, "--db", str(db), "--n", "8", "--out", str(out)])
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(s) == 8 and set(s["arm"]) == {"control", "neural"}
    again = tmp_path / "again.csv"
    runner.invoke(app, ["review-sample", spec, "--db", str(db), "--n", "8", "--out", str(again)])
    assert pd.read_csv(again, dtype=str, keep_default_na=False).equals(s)  # seeded
    flagged = s[s["checker_ad_law"] == "1"]
    assert list(flagged["text"]) == ["最好的充电宝"]

    # reviewers agree with every flag but say "SPF30防晒" is fine (a checker false positive)
    s["label_ad_law"] = s["checker_ad_law"]
    s["label_unfaithful"] = s["checker_unfaithful"]
    s.loc[s["text"] == "SPF30防晒", "label_unfaithful"] = "0"
    labelled = tmp_path / "labelled.csv"
    s.to_csv(labelled, index=False)
    r = runner.invoke(app, ["review-sample", spec, "--labels", str(labelled)])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output.strip().splitlines()[-1])["checkers"]
    assert result["ad_law"]["precision"] == 1.0 and result["ad_law"]["recall"] == 1.0
    u = result["unfaithful"]
    # flagged in the sample: 纯棉，限时7折 (tee is 8折) and SPF30防晒; 真丝面料 on pb1 is only unsupported
    assert (u["tp"], u["fp"], u["fn"]) == (1, 1, 0)
    assert u["sample_precision"] == 1 / 2

    r = runner.invoke(app, ["review-sample", spec])
    assert r.exit_code == 2 and "--db and --out" in r.output


def test_lint_reasons_text_lexicon(tmp_path, items):
    items_path = _items_file(tmp_path, items)
    texts = tmp_path / "t.csv"
    pd.DataFrame({"item_id": ["tee"], "text": ["玄武岩纤维面料"]}).to_csv(texts, index=False)
    r = runner.invoke(app, ["lint-reasons", str(texts), "--items", str(items_path)])
    assert r.exit_code == 0, r.output  # a value the catalog never shows: nothing to contradict
    lex = tmp_path / "lex.yaml"
    lex.write_text("values:\n  材质: [玄武岩纤维]\n", encoding="utf-8")
    r = runner.invoke(app, ["lint-reasons", str(texts), "--items", str(items_path), "--text-lexicon", str(lex)])
    assert r.exit_code == 1 and "contradicted: 玄武岩纤维" in r.output, r.output
    lex.write_text("valuez: []\n", encoding="utf-8")
    r = runner.invoke(app, ["lint-reasons", str(texts), "--items", str(items_path), "--text-lexicon", str(lex)])
    assert r.exit_code != 0 and "unknown key(s) ['valuez']" in r.output, r.output
