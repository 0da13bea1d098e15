"""Serving throughput: (a) in-process ReasonService vs the GrowthBook Python SDK doing the same
work; (b) `abkit serve` over HTTP vs a floor on the same ASGI stack, measured with wrk.

    python benchmarks/bench_serve.py                       # both parts (b needs `wrk`)
    python benchmarks/bench_serve.py --users 200000 --skip-http

(a) One call = one distinct user id and a 20-item page: the arm (same hash as `abkit assign`),
each item's reason for (experiment, item, segment, arm) with the template fallback, and the
response's exposure rows enqueued for the writer. The baseline per user:
``GrowthBook(attributes=...).run(experiment)`` (the Experiment built once), one dict lookup per
item, and one record appended to a deque (drained after each chunk). Both run in this process,
in interleaved chunks so both see the same machine load; their arms are checked equal. Our
exposure writer writes each chunk's rows between the timed chunks (so the backlog stays as small
as in a server); its thread CPU time (encoding and writing, not waiting for the disk) is then
added: "+ writer CPU".

(b) `abkit serve` and the floor (the same Starlette + uvicorn app answering a precomputed 20-item
page) are pinned to one core (taskset), wrk to another; every request is a distinct user. The two
are measured in alternating runs (medians), so both see the same machine load. Loopback only;
bounded by --rounds × --seconds. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from abkit.spec import Spec, parse_spec  # noqa: E402
from serving.exposure_log import ExposureLog  # noqa: E402
from serving.service import ReasonService  # noqa: E402
from serving.snapshot import ExperimentSnapshot, ItemFacts, ReasonRow, Snapshot  # noqa: E402

SEGMENTS = ["学生党", "宝妈", "白领", "银发族"]
PAGE = 20


def make_spec(start: dt.date) -> Spec:
    return parse_spec({"key": "bench_serve", "start": str(start), "end": str(start + dt.timedelta(days=30)),
                       "primary_metric": "ctr", "coverage": 0.9,
                       "arms": [{"name": "control", "weight": 0.5}, {"name": "treat", "weight": 0.5}]})


def make_snapshot(spec: Spec, n_items: int) -> tuple[Snapshot, list[str]]:
    """Reasons for 90 % of the items (segment texts for half of them), facts for all."""
    items = [f"i{k:06d}" for k in range(n_items)]
    rows = []
    for k, item in enumerate(items):
        if k % 10 == 9:
            continue
        for arm in spec.arm_names:
            for seg in (SEGMENTS if k % 2 == 0 else [None]):
                rows.append(ReasonRow(arm, item, seg, f"r_{arm}_{item}_{seg}", f"{arm} {seg} 这款好物值得入手 {item}"))
    facts = {i: ItemFacts("服饰", "牌子", "纯棉T恤", 99.0, 0.1, '{"材质": "纯棉"}') for i in items}
    return Snapshot([ExperimentSnapshot(spec, None, None, rows)], facts), items


def pages(items: list[str], n: int) -> list[list[str]]:
    step = 7
    return [[items[(u * step + j * 31) % len(items)] for j in range(PAGE)] for u in range(min(n, 5000))]


def bench_in_process(n_users: int, n_items: int) -> dict[str, float]:
    from growthbook import Experiment, GrowthBook

    spec = make_spec(dt.date.today() - dt.timedelta(days=1))
    snap, items = make_snapshot(spec, n_items)
    users = [f"user{u:09d}" for u in range(n_users)]
    page_list = pages(items, n_users)
    attrs = [{"segment": SEGMENTS[u % 4], "platform": "ios"} for u in range(len(SEGMENTS) * 2)]

    index: dict[tuple[str, str | None], dict[str, tuple[str, str]]] = {}
    for r in snap.experiments[0].reasons:
        index.setdefault((r.arm, r.segment), {})[r.item_id] = (r.reason_id, r.text)
    exp = Experiment(key=spec.key, variations=spec.arm_names, weights=spec.weights, coverage=spec.coverage,
                     hashVersion=2)
    queue: collections.deque[tuple] = collections.deque()

    def growthbook(lo: int, hi: int, out: list) -> None:
        for u in range(lo, hi):
            user, a = users[u], attrs[u & 7]
            result = GrowthBook(attributes={"id": user, **a}).run(exp)
            arm = result.value if result.inExperiment else None
            shown = arm or spec.control_arm
            seg_idx = index.get((shown, a["segment"]), {})
            base_idx = index.get((shown, None), {})
            page = [seg_idx.get(i) or base_idx.get(i) for i in page_list[u % len(page_list)]]
            if arm is not None:
                queue.append((time.time(), spec.key, user, arm, page, a))
            out.append(arm)

    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    try:
        # the writer waits while a chunk of calls is timed, then writes the chunk untimed (so the
        # backlog, and the heap, stay as small as in a server); its thread CPU time is added after
        log = ExposureLog(tmp / "log", flush_ms=3_600_000, flush_rows=10**12)
        service = ReasonService(snap, log=log, user_cache=1)

        def ours(lo: int, hi: int, out: list) -> None:
            reasons = service.reasons
            for u in range(lo, hi):
                out.append(reasons(users[u], page_list[u % len(page_list)], attrs[u & 7])[0].arm)

        # interleaved chunks, so both loops see the same machine load
        ours_arms: list = []
        gb_arms: list = []
        t_calls = t_gb = 0.0
        bounds = list(range(0, n_users, max(1, n_users // 20))) + [n_users]
        for lo, hi in itertools.pairwise(bounds):
            t0 = time.perf_counter()
            ours(lo, hi, ours_arms)
            t_calls += time.perf_counter() - t0
            while log.pending_rows():
                log.flush_now()
                time.sleep(0.005)
            t0 = time.perf_counter()
            growthbook(lo, hi, gb_arms)
            queue.clear()  # the baseline's "tracking" queue is drained too
            t_gb += time.perf_counter() - t0
        log.close()
        rows = log.stats.flushed
        writer_cpu = log.stats.cpu_s
        assert ours_arms == gb_arms, "ReasonService and the GrowthBook SDK disagree on an arm"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"users": n_users, "ours_calls_per_s": n_users / t_calls,
            "ours_calls_per_s_with_writer": n_users / (t_calls + writer_cpu), "writer_rows_per_cpu_s": rows / writer_cpu,
            "speedup_with_writer": t_gb / (t_calls + writer_cpu),
            "growthbook_calls_per_s": n_users / t_gb, "exposure_rows": rows,
            "speedup": t_gb / t_calls}


# --- (b) HTTP ------------------------------------------------------------------------------------
WRK_SCRIPT = r"""
local n = 0
local threads = {}
function setup(thread) thread:set("tid", #threads) table.insert(threads, thread) end
function init(args) counter = 0 end
request = function()
  counter = counter + 1
  local body = string.format('{"user_id":"w%d_%d","items":[%s],"attributes":{"segment":"学生党","platform":"ios"}}',
                             tid, counter, ITEMS)
  return wrk.format("POST", "/v1/reasons", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "errors": %d, "non2xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited before it was ready")
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="GET" if path == "/healthz" else "POST",
                                         data=None if path == "/healthz" else b"{}")
            urllib.request.urlopen(req, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def run_wrk(port: int, script: Path, seconds: int, connections: int, core: str) -> dict[str, float]:
    out = subprocess.run(["taskset", "-c", core, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), f"http://127.0.0.1:{port}/v1/reasons"],
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    return json.loads(line.removeprefix("WRKJSON "))


def bench_http(n_items: int, seconds: int, connections: int, server_core: str, wrk_core: str,
               rounds: int) -> dict[str, dict]:
    import yaml

    from abkit.warehouse import connect

    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_http_"))
    procs: list[subprocess.Popen] = []
    try:
        spec = make_spec(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
        spec_path = tmp / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(json.loads(spec.model_dump_json(exclude_defaults=True))), encoding="utf-8")
        snap, items = make_snapshot(spec, n_items)
        con = connect(tmp / "w.duckdb")
        con.executemany("INSERT INTO reasons (reason_id, experiment, arm, item_id, segment, text, ingested_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, now())",
                        [(r.reason_id, spec.key, r.arm, r.item_id, r.segment, r.text) for r in snap.experiments[0].reasons])
        con.executemany("INSERT INTO items (item_id, category, brand, title, price, discount, attributes, ingested_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                        [(i, f.category, f.brand, f.title, f.price, f.discount, f.attributes) for i, f in snap.items.items()])
        con.close()
        page = pages(items, 1)[0]
        script = tmp / "post.lua"
        script.write_text(WRK_SCRIPT.replace("ITEMS", repr(",".join(json.dumps(i) for i in page))), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        results = {}

        port = free_port()
        ours = subprocess.Popen(["taskset", "-c", server_core, sys.executable, "-m", "abkit", "serve", str(spec_path),
                                 "--db", str(tmp / "w.duckdb"), "--log-dir", str(tmp / "log"), "--port", str(port)],
                                env=env, stderr=subprocess.DEVNULL)
        procs.append(ours)
        wait_ready(port, ours, "/healthz")
        body = json.dumps({"user_id": "warm", "items": page, "attributes": {"segment": "学生党"}}).encode()
        floor_page = urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/reasons", data=body, method="POST"), timeout=5).read()
        (tmp / "page.json").write_bytes(floor_page)
        floor_port = free_port()
        floor = subprocess.Popen(["taskset", "-c", server_core, sys.executable, "-c",
                                  "import sys; from pathlib import Path; from serving.http import floor_app, run; "
                                  "run(floor_app(Path(sys.argv[1]).read_bytes()), '127.0.0.1', int(sys.argv[2]))",
                                  str(tmp / "page.json"), str(floor_port)], env=env, stderr=subprocess.DEVNULL)
        procs.append(floor)
        wait_ready(floor_port, floor, "/v1/reasons")
        ports = {"abkit serve": port, "floor (same stack, precomputed page)": floor_port}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in ports}
        for p in ports.values():
            run_wrk(p, script, 2, connections, wrk_core)  # warm-up
        for _ in range(rounds):  # alternate, so both see the same changes in machine load
            for name, p in ports.items():
                runs[name].append(run_wrk(p, script, seconds, connections, wrk_core))
        ours.send_signal(signal.SIGTERM)
        ours.wait(60)
        served = sum(r["requests"] for r in runs["abkit serve"])
        logged = sum(1 for p in (tmp / "log").glob("*.jsonl") for _ in open(p, "rb"))
        results = {}
        for name, rs in runs.items():
            rate = sorted(r["requests"] / r["seconds"] for r in rs)[len(rs) // 2]
            p50 = sorted(r["p50_ms"] for r in rs)[len(rs) // 2]
            p99 = sorted(r["p99_ms"] for r in rs)[len(rs) // 2]
            results[name] = {"req_per_s": rate, "p50_ms": p50, "p99_ms": p99, "rounds": rs,
                             "errors": sum(r["errors"] + r["non2xx"] for r in rs)}
        results["abkit serve"]["exposure_rows"] = logged
        results["abkit serve"]["requests_timed"] = served
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200_000, help="distinct user ids for (a)")
    ap.add_argument("--items", type=int, default=2000, help="catalog items with reasons")
    ap.add_argument("--seconds", type=int, default=4, help="wrk duration per HTTP run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating HTTP runs per server (medians reported)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--server-core", default="0")
    ap.add_argument("--wrk-core", default="1")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-in-process", action="store_true")
    args = ap.parse_args()

    out: dict = {"benchmark": "serve"}
    if not args.skip_in_process:
        out["in_process"] = in_process_table(args.users, args.items)
    if not args.skip_http:
        out["http"] = http_table(args)
    print(json.dumps(out))


def in_process_table(users: int, items: int) -> dict[str, float]:
    a = bench_in_process(users, items)
    print(f"(a) in process, one core, {a['users']:,} distinct users × {PAGE}-item page")
    print(f"{'':34} {'calls/s':>10}")
    print(f"{'ReasonService (rows enqueued)':34} {a['ours_calls_per_s']:>10,.0f}")
    print(f"{'ReasonService + writer CPU':34} {a['ours_calls_per_s_with_writer']:>10,.0f}")
    print(f"{'GrowthBook SDK run() + lookups':34} {a['growthbook_calls_per_s']:>10,.0f}")
    print(f"speedup {a['speedup']:.1f}x, {a['speedup_with_writer']:.1f}x with the writer's CPU time "
          f"({a['writer_rows_per_cpu_s']:,.0f} rows per CPU second)")
    return {k: round(v, 3) for k, v in a.items()}


def http_table(args: argparse.Namespace) -> dict | None:
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("(b) skipped: needs wrk and taskset (apt-get install wrk)")
        return None
    h = bench_http(args.items, args.seconds, args.connections, args.server_core, args.wrk_core, args.rounds)
    print(f"\n(b) HTTP, wrk -t1 -c{args.connections}, {args.rounds} alternating runs of {args.seconds} s each "
          f"(medians), server on core {args.server_core}, wrk on core {args.wrk_core}")
    print(f"{'':38} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in h.items():
        print(f"{name:38} {r['req_per_s']:>9,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7}")
    ours, floor = h["abkit serve"], h["floor (same stack, precomputed page)"]
    ratio = ours["req_per_s"] / floor["req_per_s"]
    p99_ratio = ours["p99_ms"] / floor["p99_ms"]
    print(f"abkit serve: {ratio:.0%} of the floor's req/s, p99 {p99_ratio:.2f}x the floor's; "
          f"{ours['exposure_rows']:,} exposure rows logged for {ours['requests_timed']:,} timed requests (+ warm-up)")
    return {"runs": h, "req_per_s_vs_floor": round(ratio, 3), "p99_vs_floor": round(p99_ratio, 3)}


if __name__ == "__main__":
    main()
