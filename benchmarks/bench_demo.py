"""`abkit demo` CPU seconds: this tree against a base commit, alternately, in one run.

The base commit is exported with `git archive` into a temporary folder; both trees then run the
same `abkit demo` arguments (fresh output folders, PYTHONPATH set to each tree, the tree as the
working directory), alternating which goes first. For each run it records:

* CPU seconds of the whole child process tree (resource.getrusage(RUSAGE_CHILDREN) deltas,
  user + sys): the figure the target is stated in, robust to other load on the machine;
* wall seconds;
* per demo stage (world, generate, plan, ...): wall and CPU, taken by a small wrapper that times
  each step of `abkit.cli.demo_pipeline` (process CPU of all threads, plus any children);
* the load average before the run, and the analysis' users and decision (same experiment?).

Best (lowest) of --rounds per tree and stage; ends with one JSON line.

    python benchmarks/bench_demo.py --base 0162d56                    # the demo's default size
    python benchmarks/bench_demo.py --base 0162d56 --rounds 2
    python benchmarks/bench_demo.py --base 0162d56 --quick            # small: iterate on this
    python benchmarks/bench_demo.py --base 0162d56 -- --users 50000   # extra `abkit demo` args
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUICK_ARGS = ["--users", "60000", "--days", "7", "--items", "600", "--candidates", "24"]
STAGES = ["world", "generate", "plan", "simulate", "analyze", "report", "summary"]

# Runs `abkit demo` (sys.argv[2:]) in this interpreter and writes per-step {name: [wall, cpu]} to
# sys.argv[1]. It wraps the demo's step timer, so it works on any tree whose demo_pipeline has
# `_Steps.step(name, what)` (a tree without it still runs, with totals only).
WRAPPER = r'''
import json, resource, sys, time
from contextlib import contextmanager
out, args = sys.argv[1], sys.argv[2:]
stages = {}
def cpu():
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime
try:
    import abkit.cli.demo_pipeline as dp
    plain = dp._Steps.step
    @contextmanager
    def step(self, name, what):
        w, c = time.perf_counter(), cpu()
        with plain(self, name, what):
            yield
        stages[name] = [time.perf_counter() - w, cpu() - c]
    dp._Steps.step = step
except (ImportError, AttributeError):
    pass
from abkit.cli import app
sys.argv = ["abkit", *args]
try:
    app()
finally:
    with open(out, "w") as fh:
        json.dump(stages, fh)
'''


@dataclass
class Run:
    tree: str
    cpu: float
    wall: float
    load: float
    stages: dict[str, list[float]] = field(default_factory=dict)
    users: int | None = None
    decision: str | None = None


def export_tree(commit: str, dest: Path) -> Path:
    """`git archive` of `commit` unpacked into dest (no worktree bookkeeping left behind)."""
    dest.mkdir(parents=True)
    archive = dest.parent / "base.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest


def run_demo(tree: str, root: Path, args: list[str], work: Path, n: int, wrapper: Path, verbose: bool) -> Run:
    out = work / f"{tree}-{n}"
    stages_file = work / f"{tree}-{n}.stages.json"
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(wrapper), str(stages_file), "demo", "--out", str(out), *args],
                          cwd=root, env=env, capture_output=not verbose, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = "" if verbose else (proc.stdout[-2000:] + proc.stderr[-2000:])
        raise SystemExit(f"{tree}: abkit demo failed (exit {proc.returncode})\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run = Run(tree, cpu, wall, load)
    if stages_file.exists():
        run.stages = json.loads(stages_file.read_text())
    result = out / "result.json"
    if result.exists():
        data = json.loads(result.read_text(encoding="utf-8"))
        run.users = sum(data.get("users", {}).values())
        run.decision = data.get("decision", {}).get("action")
    return run


def best(runs: list[Run], tree: str) -> dict[str, Any]:
    mine = [r for r in runs if r.tree == tree]
    top = min(mine, key=lambda r: r.cpu)
    stages = {s: [min(r.stages[s][0] for r in mine if s in r.stages), min(r.stages[s][1] for r in mine if s in r.stages)]
              for s in STAGES if all(s in r.stages for r in mine)}
    return {"cpu_s": round(top.cpu, 1), "wall_s": round(min(r.wall for r in mine), 1),
            "load": round(top.load, 2), "users": top.users, "decision": top.decision,
            "stages": {s: {"wall_s": round(w, 1), "cpu_s": round(c, 1)} for s, (w, c) in stages.items()}}


def print_table(base: dict[str, Any], ours: dict[str, Any], base_name: str) -> None:
    def ratio(a: float | None, b: float | None) -> str:
        return f"{b / a:.2f}" if a and b is not None else "—"

    print(f"\n{'stage':<10} {'base cpu':>9} {'ours cpu':>9} {'ratio':>6} {'base wall':>10} {'ours wall':>10}")
    for s in STAGES:
        b, o = base["stages"].get(s), ours["stages"].get(s)
        if not b or not o:
            continue
        print(f"{s:<10} {b['cpu_s']:>9.1f} {o['cpu_s']:>9.1f} {ratio(b['cpu_s'], o['cpu_s']):>6} "
              f"{b['wall_s']:>10.1f} {o['wall_s']:>10.1f}")
    print(f"{'total':<10} {base['cpu_s']:>9.1f} {ours['cpu_s']:>9.1f} {ratio(base['cpu_s'], ours['cpu_s']):>6} "
          f"{base['wall_s']:>10.1f} {ours['wall_s']:>10.1f}")
    print(f"(CPU = user+sys of the child process tree, best of the rounds; base = {base_name}; "
          f"load average before the runs: base {base['load']}, ours {ours['load']}, now {os.getloadavg()[0]:.2f})")
    print(f"analysis users: base {base['users']}, ours {ours['users']}; "
          f"decision: base {base['decision']}, ours {ours['decision']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="0162d56", help="commit to compare against (default: 0162d56)")
    ap.add_argument("--rounds", type=int, default=1, help="runs per tree, alternating (best is kept)")
    ap.add_argument("--quick", action="store_true", help=f"a small demo: {' '.join(QUICK_ARGS)}")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (outputs of every run)")
    ap.add_argument("--verbose", action="store_true", help="show the demos' own output")
    ap.add_argument("demo_args", nargs="*", help="extra `abkit demo` arguments (after --)")
    a = ap.parse_args(argv)
    args = [*(QUICK_ARGS if a.quick else []), *a.demo_args]
    work = Path(tempfile.mkdtemp(prefix="bench_demo_"))
    try:
        base_root = export_tree(a.base, work / "base")
        wrapper = work / "wrapper.py"
        wrapper.write_text(WRAPPER, encoding="utf-8")
        trees = {"base": base_root, "ours": ROOT}
        runs: list[Run] = []
        print(f"abkit demo {' '.join(args) or '(defaults)'}: base {a.base} vs this tree, {a.rounds} round(s)")
        for n in range(a.rounds):
            order = ["base", "ours"] if n % 2 == 0 else ["ours", "base"]
            for tree in order:
                r = run_demo(tree, trees[tree], args, work, n, wrapper, a.verbose)
                runs.append(r)
                print(f"  round {n + 1} {tree:<4}: cpu {r.cpu:7.1f} s  wall {r.wall:7.1f} s  load {r.load:5.2f}  "
                      f"users {r.users}  decision {r.decision}", flush=True)
        base, ours = best(runs, "base"), best(runs, "ours")
        print_table(base, ours, a.base)
        print(json.dumps({"bench": "demo", "base_commit": a.base, "args": args, "rounds": a.rounds,
                          "cpu_ratio": round(ours["cpu_s"] / base["cpu_s"], 3), "base": base, "ours": ours,
                          "loadavg": [round(x, 2) for x in os.getloadavg()]}))
    finally:
        if a.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
