"""Benchmark: score N distinct (item, text) pairs with every per-arm text metric, self-BLEU sample included.

Synthetic catalog + template-like reasons from abkit.world.vocab (with injected absolute terms and
corrupted claims), then arm_text_metrics (distinct-n, entropy, self-BLEU on its 500-text sample,
repetition, lengths, compliance, faithfulness, coverage, personalization, exposure-weighted rates)
over N distinct (item, text, segment) rows: wall time, CPU seconds and texts/second. Side by side,
on the same subset of texts and in CPU seconds (robust on a shared machine): each component
against a naive version -- a per-term `in` loop for banned terms, one regex per pattern plus an
`in` test per lexicon value for claim extraction, Python sets of substrings for distinct-n.
``--baseline-ref REF`` also times the abkit package of git revision REF (e.g. the checker before
a change) on the very same pairs, in a subprocess, and prints both.

    python benchmarks/bench_text.py --n 1000000 --baseline-ref 5e8505e   # full, old vs new
    python benchmarks/bench_text.py --n 50000                            # quick
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from abkit.text.arm_metrics import arm_text_metrics
from abkit.text.compliance import ALLOWLIST, BANNED_TERMS
from abkit.text.normalize import normalize
from abkit.text.numeric import _PATTERNS, extract_numeric
from abkit.world import vocab
from abkit.world.textlex import world_extension

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


# ------------------------------------------------------------------ naive baselines
_TERMS = [(normalize(t), c) for c, ts in BANNED_TERMS.items() for t in ts]
_ALLOW = [normalize(t) for t in ALLOWLIST]
_REGEXES = [re.compile(p.replace("(?P<{a}>", "(").replace("(?P<{b}>", "(").replace("(?P<{c}>", "(")) for _, _, p in _PATTERNS]
_VALUES = sorted({normalize(v) for vs in vocab.value_lexicon().values() for v in vs}, key=len, reverse=True)


def naive_compliance(texts: list[str]) -> int:
    """Per-term `in` loop after masking allowlisted compounds."""
    bad = 0
    for text in texts:
        norm = normalize(text)
        for a in _ALLOW:
            if a in norm:
                norm = norm.replace(a, "\x01" * len(a))
        bad += any(t in norm for t, _ in _TERMS)
    return bad


def naive_claims(texts: list[str]) -> int:
    """One regex per numeric pattern plus an `in` test per lexicon value."""
    found = 0
    for text in texts:
        cased = normalize(text, casefold=False, keep_spaces=True)
        found += sum(1 for rx in _REGEXES for _ in rx.finditer(cased))
        low = cased.lower()
        found += sum(1 for v in _VALUES if v in low)
    return found


def naive_distinct(texts: list[str]) -> dict[int, float]:
    out = {}
    uniq = [re.sub(r"\s+", "", t) for t in set(texts)]
    for n in (1, 2, 3, 4):
        seen: set[str] = set()
        total = 0
        for s in uniq:
            grams = [s[i:i + n] for i in range(len(s) - n + 1)]
            seen.update(grams)
            total += len(grams)
        out[n] = len(seen) / max(total, 1)
    return out


def timed(fn, *args, **kwargs):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - w, time.process_time() - c


_BASELINE_RUN = """
import json, resource, sys, time
import pandas as pd
from abkit.text.arm_metrics import arm_text_metrics
pairs = pd.read_parquet(sys.argv[1]); items = pd.read_parquet(sys.argv[2])
jobs = None if sys.argv[3] == "auto" else int(sys.argv[3])
w, c = time.perf_counter(), time.process_time()
out = arm_text_metrics(pairs, items, seed="bench", sample_n=min(len(pairs), 1000), self_bleu_sample=500, jobs=jobs)
wall, cpu = time.perf_counter() - w, time.process_time() - c
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": cpu, "workers_cpu": ch.ru_utime + ch.ru_stime,
                  "unfaithful_rate": out["unfaithful_rate"], "ad_law_violation_rate": out["ad_law_violation_rate"]}))
"""


def run_baseline(ref: str, pairs: pd.DataFrame, items: pd.DataFrame, jobs: int | None) -> dict:
    """arm_text_metrics of git revision ``ref`` on the same pairs, in a fresh interpreter."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", ref, "abkit"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        pairs.to_parquet(Path(tmp) / "pairs.parquet")
        items.to_parquet(Path(tmp) / "items.parquet")
        env = {**os.environ, "PYTHONPATH": tmp}
        out = subprocess.run([sys.executable, "-c", _BASELINE_RUN, str(Path(tmp) / "pairs.parquet"),
                              str(Path(tmp) / "items.parquet"), "auto" if jobs is None else str(jobs)],
                             capture_output=True, text=True, env=env, cwd=tmp)
    if out.returncode:
        raise SystemExit(f"baseline {ref} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="texts to score")
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--baseline-n", type=int, default=100_000, help="texts for the component comparisons")
    ap.add_argument("--jobs", type=int, default=None, help="processes for pair scoring (default: auto)")
    ap.add_argument("--self-bleu-sample", type=int, default=500, help="self-BLEU sample size (0 skips it)")
    ap.add_argument("--baseline-ref", default=None, help="git revision whose abkit to time on the same pairs")
    args = ap.parse_args()
    t0 = time.perf_counter()
    items = make_world(args.items)
    pairs = make_texts(items, args.n)
    gen_s = time.perf_counter() - t0

    from abkit.text.compliance import default_checker
    from abkit.text.faithfulness import FaithfulnessChecker
    from abkit.text.ngrams import encode_chars, ngram_table
    from abkit.text.normalize import normalize_both

    nb = min(args.baseline_n, args.n)
    sub = pairs["text"].iloc[:nb].tolist()
    comp = default_checker()
    faith = FaithfulnessChecker(extension=world_extension())
    rows = []

    def ours_compliance(texts):
        return sum(bool(comp.check_normalized(normalize_both(t)[1])) for t in texts)

    def ours_claims(texts):
        found = 0
        for t in texts:
            cased = normalize_both(t)[0]
            found += len(extract_numeric(cased)) + len(faith.lexicon.mentions(cased.lower()))
        return found

    def ours_distinct(texts):
        enc = encode_chars(sorted(set(texts)))
        return {n: (lambda tb: tb.unique / tb.total)(ngram_table(enc, n)) for n in (1, 2, 3, 4)}

    checks = {}
    for name, ours_fn, naive_fn in [("compliance (banned terms)", ours_compliance, naive_compliance),
                                    ("claim extraction (numbers + values)", ours_claims, naive_claims),
                                    ("distinct-1..4", ours_distinct, naive_distinct)]:
        a, _, a_cpu = timed(ours_fn, sub)
        b, _, b_cpu = timed(naive_fn, sub)
        checks[name] = (a, b)
        rows.append((name, nb, a_cpu, b_cpu))

    import resource

    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    full, wall_s, cpu_s = timed(arm_text_metrics, pairs, items, seed="bench", sample_n=min(args.n, 1000),
                                self_bleu_sample=args.self_bleu_sample, jobs=args.jobs)
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
    base = run_baseline(args.baseline_ref, pairs, items, args.jobs) if args.baseline_ref else None
    print(f"{'component (CPU seconds, same texts)':40s} {'texts':>9s} {'ours':>8s} {'naive':>8s} {'speed-up':>9s}")
    for name, n, a, b in rows:
        print(f"{name:40s} {n:9d} {a:8.2f} {b:8.2f} {b / a:8.1f}x")
    print(f"flagged: ours {checks['compliance (banned terms)'][0]}, naive {checks['compliance (banned terms)'][1]}; "
          f"distinct-2 ours {checks['distinct-1..4'][0][2]:.5f}, naive {checks['distinct-1..4'][1][2]:.5f}")
    print(f"all metrics (self-BLEU sample {args.self_bleu_sample}) on {args.n} distinct pairs: wall {wall_s:.1f} s "
          f"({args.n / wall_s:.0f} texts/s), CPU: main process {cpu_s:.1f} s + scoring workers {workers_cpu:.1f} s")
    if base is not None:
        ours_cpu, base_cpu = cpu_s + workers_cpu, base["cpu"] + base["workers_cpu"]
        print(f"\n{'arm_text_metrics, same pairs':32s} {'wall s':>8s} {'CPU s':>8s} {'unfaithful':>11s} {'ad-law':>8s}")
        print(f"{'baseline ' + args.baseline_ref:32s} {base['wall']:8.1f} {base_cpu:8.1f} "
              f"{base['unfaithful_rate']:11.4f} {base['ad_law_violation_rate']:8.4f}")
        print(f"{'this tree':32s} {wall_s:8.1f} {ours_cpu:8.1f} {full['unfaithful_rate']:11.4f} "
              f"{full['ad_law_violation_rate']:8.4f}")
        print(f"CPU ratio this tree / baseline: {ours_cpu / base_cpu:.2f}x (wall {wall_s / base['wall']:.2f}x)")
    print(json.dumps({
        "benchmark": "text_metrics", "n": args.n, "wall_seconds": round(wall_s, 2), "texts_per_s": round(args.n / wall_s),
        "main_process_cpu_seconds": round(cpu_s, 2), "workers_cpu_seconds": round(workers_cpu, 2),
        "load_average_1m": round(__import__("os").getloadavg()[0], 2), "component_n": nb,
        **{f"{k.split(' ')[0].replace('-1..4', '')}_cpu_ours": round(a, 3) for k, _, a, _ in rows},
        **{f"{k.split(' ')[0].replace('-1..4', '')}_cpu_naive": round(b, 3) for k, _, _, b in rows},
        **{f"{k.split(' ')[0].replace('-1..4', '')}_speedup": round(b / a, 2) for k, _, a, b in rows},
        "distinct_2": full["distinct_2"], "ad_law_violation_rate": full["ad_law_violation_rate"],
        "unfaithful_rate": full["unfaithful_rate"], "generate_seconds": round(gen_s, 2),
        "self_bleu_sample": args.self_bleu_sample, "distinct_pairs": int(len(pairs)),
        **({"baseline_ref": args.baseline_ref, "baseline_wall_seconds": round(base["wall"], 2),
            "baseline_cpu_seconds": round(base["cpu"] + base["workers_cpu"], 2),
            "cpu_ratio_vs_baseline": round((cpu_s + workers_cpu) / (base["cpu"] + base["workers_cpu"]), 3)}
           if base else {}),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
