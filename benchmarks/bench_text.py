"""Benchmark: N distinct (item, text) pairs through every per-arm text metric, this tree against a baseline commit.

Synthetic catalog + template-like reasons from abkit.world.vocab (with injected absolute terms and
corrupted claims), then abkit.text.arm_metrics.arm_text_metrics (distinct-n, entropy, self-BLEU on its
500-text sample, repetition, lengths, compliance, faithfulness, coverage, personalization,
exposure-weighted rates) on the same pairs for both trees: the baseline is the abkit package of git
revision ``--baseline-ref`` (default: the commit before the batched text checker), extracted with
``git archive``; each tree runs in its own fresh interpreter, alternating, best of ``--repeat``.
Printed: the per-metric CPU seconds of both (serial, one process), the full call's wall / CPU
seconds and texts/s with their ratio, the load average, and whether both trees returned the
identical metrics dict. Ends with one JSON line.

    python benchmarks/bench_text.py --n 1000000            # the issue's figure
    python benchmarks/bench_text.py --n 50000              # quick
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from abkit.world import vocab

CONNECT = ["，", "、", "，还", "，而且", "，同时"]
CTA = ["快来看看", "值得入手", "放心买", "赶紧收藏", ""]


def make_world(n_items: int, seed: int = 7) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    cats = list(vocab.CATEGORIES)
    for i in range(n_items):
        cat = rng.choice(cats)
        sub = rng.choice(vocab.CATEGORIES[cat]["subcategories"])
        attrs = {a: rng.choice(v) for a, v in vocab.subcategory_attributes(cat, sub).items()}
        attrs.update({a: rng.choice(v) for a, v in vocab.SHARED_ATTRIBUTES.items() if rng.random() < 0.7})
        discount = rng.choice([0.0, 0.0, 0.0] + vocab.DISCOUNTS)
        if rng.random() < 0.3:
            attrs["促销"] = rng.choice(vocab.render_promos())
        lo, hi = vocab.CATEGORIES[cat]["price_band"]
        price = round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), 1)
        brand = rng.choice(vocab.BRAND_SYLLABLES_1) + rng.choice(vocab.BRAND_SYLLABLES_2)
        rows.append({"item_id": f"i{i:06d}", "category": cat, "brand": brand, "title": f"{brand}{sub}",
                     "price": price, "discount": discount, "attributes": json.dumps(attrs, ensure_ascii=False)})
    return pd.DataFrame(rows)


def make_texts(items: pd.DataFrame, n: int, seed: int = 11) -> pd.DataFrame:
    """``n`` rows with distinct (item_id, text) pairs."""
    rng = random.Random(seed)
    recs = items.to_dict("records")
    parsed = [json.loads(r["attributes"]) for r in recs]
    personas = list(vocab.PERSONAS)
    bad_terms = vocab.ABSOLUTE_TERMS
    item_col, text_col, seg_col = [], [], []
    seen: set[tuple[str, str]] = set()
    while len(item_col) < n:
        k = rng.randrange(len(recs))
        attrs = parsed[k]
        persona = rng.choice(personas)
        p = vocab.PERSONAS[persona]
        vals = rng.sample(list(attrs.values()), min(len(attrs), rng.randint(1, 3)))
        parts = [rng.choice(p["hooks"])] if rng.random() < 0.6 else []
        body = rng.choice(CONNECT).join(vals)
        r = rng.random()
        if r < 0.03:
            body = rng.choice(bad_terms) + body
        elif r < 0.06:
            body += "，限时" + rng.choice(["8折", "满199减30", "直降20元"])
        parts += [body, rng.choice(p["scenes"]), rng.choice(CTA)]
        text = "，".join(x for x in parts if x)
        if (recs[k]["item_id"], text) in seen:
            continue
        seen.add((recs[k]["item_id"], text))
        item_col.append(recs[k]["item_id"])
        text_col.append(text)
        seg_col.append(persona)
    return pd.DataFrame({"item_id": item_col, "text": text_col, "segment": seg_col,
                         "exposures": np.random.default_rng(seed).integers(1, 50, n)})


BASELINE_REF = "0162d56"  # main before issue 18's batched text checker

_RUN = """
import gc, json, resource, sys, time
import pandas as pd
pairs = pd.read_parquet(sys.argv[1]); items = pd.read_parquet(sys.argv[2]); mode = sys.argv[3]
jobs = None if sys.argv[4] == "auto" else int(sys.argv[4])
sample_n = min(len(pairs), 1000)
if mode == "full":
    from abkit.text.arm_metrics import arm_text_metrics
    w, c = time.perf_counter(), time.process_time()
    out = arm_text_metrics(pairs, items, seed="bench", sample_n=sample_n, self_bleu_sample=500, jobs=jobs)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"wall": wall, "cpu": cpu + ch.ru_utime + ch.ru_stime, "metrics": out}, ensure_ascii=False))
    raise SystemExit
from abkit.text.diversity import diversity, repetition
from abkit.text.items import items_by_id
from abkit.text.ngrams import encode_chars, ngram_table
from abkit.text.personalization import personalization
from abkit.text.scoring import TextChecker, score_pairs
from abkit.text.selfbleu import seeded_sample, self_bleu
t, times = [time.process_time()], {}
def tick(name):
    now = time.process_time(); times[name] = now - t[0]; t[0] = now
catalog = items_by_id(items); checker = TextChecker.build(catalog); tick("catalog + checker build")
score_pairs(pairs["text"].tolist(), pairs["item_id"].tolist(), catalog, compliance=checker.compliance,
            faithfulness=checker.faithfulness, jobs=1); tick("compliance + faithfulness")
gc.collect(); t[0] = time.process_time()
texts = sorted(set(pairs["text"].tolist())); enc = encode_chars(texts)
tables = {n: ngram_table(enc, n) for n in (1, 2, 3, 4)}; tick("distinct-n, entropy (all texts)")
self_bleu(texts, sample=500, seed="bench"); tick("self-BLEU (500 sample)")
diversity(seeded_sample(texts, sample_n, "bench", "at_n")); tick("*_at_n (sample)")
repetition(enc=enc, tables=tables); tick("repetition, seq-rep-4")
personalization(pairs, seed="bench"); tick("personalization")
print(json.dumps(times))
"""


def run_tree(pythonpath: str, data: Path, mode: str, jobs: int | None) -> dict:
    """One mode of _RUN in a fresh interpreter with ``pythonpath`` first on the path."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    out = subprocess.run([sys.executable, "-c", _RUN, str(data / "pairs.parquet"), str(data / "items.parquet"), mode,
                          "auto" if jobs is None else str(jobs)], capture_output=True, text=True, env=env, cwd=data)
    if out.returncode:
        raise SystemExit(f"{mode} run with PYTHONPATH={pythonpath} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="distinct (item, text) pairs to score")
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--jobs", type=int, default=None, help="processes for pair scoring in the full call (default: auto)")
    ap.add_argument("--baseline-ref", default=BASELINE_REF, help="git revision whose abkit is the baseline")
    ap.add_argument("--repeat", type=int, default=1, help="full calls per tree (alternating; best wall counts)")
    ap.add_argument("--no-stages", action="store_true", help="skip the per-metric breakdown")
    args = ap.parse_args()
    t0 = time.perf_counter()
    items = make_world(args.items)
    pairs = make_texts(items, args.n)
    gen_s = time.perf_counter() - t0
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        data, base_tree = Path(tmp), Path(tmp) / "baseline"
        base_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(root), "archive", args.baseline_ref, "abkit"], check=True,
                                 capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(base_tree)], input=archive.stdout, check=True)
        pairs.to_parquet(data / "pairs.parquet")
        items.to_parquet(data / "items.parquet")
        trees = {"baseline": str(base_tree), "ours": str(root)}
        load = [os.getloadavg()[0]]
        stages: dict[str, dict] = {}
        if not args.no_stages:
            for name in ("baseline", "ours"):
                stages[name] = run_tree(trees[name], data, "stages", None)
                load.append(os.getloadavg()[0])
        full: dict[str, list[dict]] = {"baseline": [], "ours": []}
        for r in range(args.repeat):
            for name in ("baseline", "ours") if r % 2 == 0 else ("ours", "baseline"):
                full[name].append(run_tree(trees[name], data, "full", args.jobs))
                load.append(os.getloadavg()[0])
    best = {k: min(v, key=lambda x: x["wall"]) for k, v in full.items()}
    identical = all(x["metrics"] == best["baseline"]["metrics"] for v in full.values() for x in v)
    n = args.n
    print(f"{n} distinct (item, text) pairs, {args.items} items; generated in {gen_s:.1f} s; "
          f"baseline = abkit at {args.baseline_ref}")
    if stages:
        print(f"\n{'metric (serial CPU s)':34s} {'baseline':>9s} {'ours':>8s} {'ratio':>7s}")
        for k in stages["baseline"]:
            b, o = stages["baseline"][k], stages["ours"][k]
            print(f"{k:34s} {b:9.2f} {o:8.2f} {b / max(o, 1e-9):6.1f}x")
        tb, to = sum(stages["baseline"].values()), sum(stages["ours"].values())
        print(f"{'total':34s} {tb:9.2f} {to:8.2f} {tb / to:6.1f}x")
    print(f"\n{'arm_text_metrics, full call':28s} {'wall s':>8s} {'CPU s':>8s} {'texts/s':>9s}")
    for k in ("baseline", "ours"):
        print(f"{k:28s} {best[k]['wall']:8.1f} {best[k]['cpu']:8.1f} {n / best[k]['wall']:9.0f}")
    ratio = best["baseline"]["wall"] / best["ours"]["wall"]
    cpu_ratio = best["baseline"]["cpu"] / best["ours"]["cpu"]
    print(f"speed-up: wall {ratio:.2f}x, CPU {cpu_ratio:.2f}x; identical metrics: {'yes' if identical else 'NO'}; "
          f"load average (1 min) {min(load):.2f}..{max(load):.2f} on {os.cpu_count()} cores")
    m = best["ours"]["metrics"]
    print(json.dumps({
        "benchmark": "text_metrics", "n": n, "items": args.items, "baseline_ref": args.baseline_ref,
        "wall_seconds": round(best["ours"]["wall"], 2), "cpu_seconds": round(best["ours"]["cpu"], 2),
        "texts_per_s": round(n / best["ours"]["wall"]),
        "baseline_wall_seconds": round(best["baseline"]["wall"], 2),
        "baseline_cpu_seconds": round(best["baseline"]["cpu"], 2),
        "baseline_texts_per_s": round(n / best["baseline"]["wall"]),
        "speedup_wall": round(ratio, 2), "speedup_cpu": round(cpu_ratio, 2), "identical_metrics": identical,
        "stages_cpu_seconds": stages, "load_average_1m": [round(x, 2) for x in load], "cores": os.cpu_count(),
        "repeat": args.repeat, "distinct_2": m["distinct_2"], "ad_law_violation_rate": m["ad_law_violation_rate"],
        "unfaithful_rate": m["unfaithful_rate"], "generate_seconds": round(gen_s, 2),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
