"""Decoding throughput: naive loop vs keras-hub's cached compiled generate() vs our decoder.

Same model size, batch, prompt length and number of new tokens for all three; randomly
initialised weights (throughput does not depend on them); the same sampler (top-k, k=5,
temperature 1, as keras-hub's default TopKSampler) and no early stopping, so every row
produces exactly `--new-tokens` tokens. A last row times our decoder with every production
feature on (top-p 0.95, repetition penalty 1.2, compliance automaton) for its real cost.

    python benchmarks/bench_generate.py            # vocab 5000, d 256, 4 layers, batch 256, 32 new
    python benchmarks/bench_generate.py --quick    # a small run
    python benchmarks/bench_generate.py --backend jax       # JAX (CPU here; the GPU path elsewhere)
    python benchmarks/bench_generate.py --backend jax --batch-sizes 1024,4096,8192   # GPU
    python benchmarks/bench_generate.py --end-to-end        # + `abkit generate` on the shipped model

tokens/s = batch x new tokens / seconds (best of --repeats after one compile/warm-up run);
reasons/s = batch / seconds. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _backend_from_argv(argv: list[str]) -> str | None:
    """--backend NAME (or --backend=NAME): keras reads KERAS_BACKEND once, at its first import."""
    for i, a in enumerate(argv):
        if a == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--backend="):
            return a.split("=", 1)[1]
    return None


if _backend_from_argv(sys.argv[1:]):
    os.environ["KERAS_BACKEND"] = str(_backend_from_argv(sys.argv[1:]))

import keras  # noqa: E402

from generators.neural import backend  # noqa: E402
from generators.neural.constraints import build_automaton  # noqa: E402
from generators.neural.decode import Decoder, DecodeSettings, NaiveDecoder  # noqa: E402
from generators.neural.model import build_model  # noqa: E402


def _time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # compile / warm up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_ours(model, prompts, uniforms, settings, automaton, repeats):
    dec = Decoder(model)
    out = {}

    def run():
        out["tokens"] = dec.generate(prompts, uniforms, settings, eos_id=-1, automaton=automaton)

    return _time(run, repeats), out


def bench_naive(model, prompts, uniforms, settings, repeats):
    dec = NaiveDecoder(model)
    return _time(lambda: dec.generate(prompts, uniforms, settings, eos_id=-1), repeats)


def bench_keras_hub(args, prompts, repeats):
    """keras-hub GPT-2 CausalLM of the same size, random weights, compiled generate()."""
    import keras_hub  # benchmark-only dependency

    b, p = prompts.shape
    total = p + args.new_tokens
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=args.vocab, num_layers=args.layers, num_heads=args.heads, hidden_dim=args.d_model,
        intermediate_dim=4 * args.d_model, dropout=0.0, max_sequence_length=total)
    lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    lm.compile(sampler=keras_hub.samplers.TopKSampler(k=5, seed=0))
    token_ids = np.zeros((b, total), np.int32)
    token_ids[:, :p] = prompts
    mask = np.zeros((b, total), bool)
    mask[:, :p] = True
    inputs = {"token_ids": token_ids, "padding_mask": mask}
    return _time(lambda: lm.generate(inputs, stop_token_ids=None), repeats), backbone.count_params()


def bench_end_to_end(n_items: int, segments: int, repeats: int) -> dict:
    """`abkit generate`'s code path (runner.run_generate: candidate items, ids, the shipped model's decoder
    with constraints and 4 candidates per request, the candidate filter, DuckDB writes) on a fresh warehouse,
    after a warm-up run that compiles the decoder for the items' prompt buckets, in decoded sequences per second (every
    candidate counts) -- beside the raw decoder of the same model at the same batch shape (256 rows, the
    first prompt bucket, 48 new tokens, the same settings, no early stop)."""
    import tempfile

    from abkit.spec import parse_spec
    from abkit.warehouse import connect
    from abkit.world.catalog import make_catalog
    from generators.neural.generator import _DEFAULTS, PROMPT_BUCKETS, NeuralGenerator
    from generators.runner import run_generate

    k, n_new = int(_DEFAULTS["num_candidates"]), int(_DEFAULTS["max_new_tokens"])
    items = make_catalog(n_items, seed=5)
    spec = {
        "key": "bench_e2e", "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "ctr",
        "segments": [f"seg{i}" for i in range(segments)],
        "arms": [{"name": "control", "weight": 0.5, "generator": {"type": "template"}},
                 {"name": "ai", "weight": 0.5, "generator": {"type": "neural"}}]}
    with tempfile.TemporaryDirectory() as d:
        con = connect(str(Path(d) / "w.duckdb"))
        # Warm-up: the same items under another experiment key (other ids, so all are generated) compiles
        # the decoder for every prompt bucket they need; the timed run is the steady state.
        run_generate(parse_spec({**spec, "key": "bench_e2e_warmup"}), con, items=items, arms=["ai"], progress=False)
        t0 = time.perf_counter()
        rep = run_generate(parse_spec(spec), con, items=items, arms=["ai"], progress=False)
        seconds = time.perf_counter() - t0
        con.close()
    sequences = rep.arms[0].generated * k

    gen = NeuralGenerator()
    st = gen._load()
    batch, vocab = st["batch"], st["model"].vocab_size
    rng = np.random.default_rng(1)
    prompts = rng.integers(3, vocab, size=(batch, PROMPT_BUCKETS[0])).astype(np.int32)
    uniforms = rng.random((batch, n_new)).astype(np.float32)
    settings = DecodeSettings(temperature=float(_DEFAULTS["temperature"]), top_k=int(_DEFAULTS["top_k"]),
                              top_p=float(_DEFAULTS["top_p"]),
                              repetition_penalty=float(_DEFAULTS["repetition_penalty"]))
    decoder = st["decoder"]
    raw = _time(lambda: decoder.generate(prompts, uniforms, settings, eos_id=-1, automaton=st["automaton"]), repeats)
    return {"batch": batch, "reasons": rep.arms[0].generated, "sequences": sequences, "seconds": round(seconds, 3),
            "sequences_per_s": round(sequences / seconds, 1), "raw_decoder_sequences_per_s": round(batch / raw, 1),
            "end_to_end_share_of_raw": round(sequences / seconds / (batch / raw), 3)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=5000)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batch-sizes", type=str, default=None, help="comma list (at most 3), e.g. 1024,4096,8192")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small run: vocab 1000, d 128, 2 layers, batch 64")
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--no-keras-hub", action="store_true")
    ap.add_argument("--naive-max-batch", type=int, default=1024, help="skip the naive loop above this batch")
    ap.add_argument("--backend", choices=["tensorflow", "jax"], default=None,
                    help="Keras backend (default: KERAS_BACKEND, else tensorflow)")
    ap.add_argument("--end-to-end", action="store_true",
                    help="also time `abkit generate` (the shipped model) against the decoder at its shape")
    ap.add_argument("--e2e-items", type=int, default=64)
    args = ap.parse_args(argv)
    if args.quick:
        args.vocab, args.d_model, args.layers, args.batch, args.repeats = 1000, 128, 2, 64, 2
    sizes = [int(x) for x in args.batch_sizes.split(",")][:3] if args.batch_sizes else [args.batch]

    threads = backend.configure_threads()
    keras.utils.set_random_seed(0)
    total = args.prompt_len + args.new_tokens
    model = build_model(dict(vocab_size=args.vocab, max_len=total, d_model=args.d_model, n_layers=args.layers,
                             n_heads=args.heads))
    same = DecodeSettings(temperature=1.0, top_k=5, top_p=1.0, repetition_penalty=1.0)
    full = DecodeSettings(temperature=0.8, top_k=0, top_p=0.95, repetition_penalty=1.2)
    rng = np.random.default_rng(0)
    banned = [tuple(int(t) for t in rng.integers(1, args.vocab, size=int(rng.integers(2, 5)))) for _ in range(50)]
    allowed = [banned[0] + (7,), banned[1] + (8, 9)]
    automaton = build_automaton(banned, allowed, args.vocab)

    print(f"backend={backend.backend_name()} device={backend.device_kind()} threads={threads} "
          f"vocab={args.vocab} d={args.d_model} layers={args.layers} heads={args.heads} "
          f"prompt={args.prompt_len} new={args.new_tokens} params={model.count_params():,}")
    results = []
    for b in sizes:
        prompts = rng.integers(1, args.vocab, size=(b, args.prompt_len)).astype(np.int32)
        uniforms = rng.random((b, args.new_tokens)).astype(np.float32)
        n_tok = b * args.new_tokens
        rows = {}
        t_ours, out = bench_ours(model, prompts, uniforms, same, None, args.repeats)
        assert out["tokens"].shape == (b, args.new_tokens)
        rows["ours"] = t_ours
        rows["ours_full"] = bench_ours(model, prompts, uniforms, full, automaton, args.repeats)[0]
        if not args.no_keras_hub:
            rows["keras_hub"], _ = bench_keras_hub(args, prompts, args.repeats)
        if not args.no_naive and b <= args.naive_max_batch:
            rows["naive"] = bench_naive(model, prompts, uniforms, same, 1)
        print(f"\nbatch {b}: {'decoder':<44}{'seconds':>9}{'tokens/s':>12}{'reasons/s':>11}{'ours is':>9}")
        labels = {"naive": "(a) naive loop, full sequence each step",
                  "keras_hub": "(b) keras-hub GPT2CausalLM.generate (XLA)",
                  "ours": "(c) ours: cached compiled while_loop",
                  "ours_full": "(c') ours + top-p, rep. penalty, constraints"}
        for key in ("naive", "keras_hub", "ours", "ours_full"):
            if key in rows:
                t = rows[key]
                ratio = f"{t / t_ours:8.2f}x" if key in ("naive", "keras_hub") else ""
                print(f"{'':9}{labels[key]:<44}{t:9.3f}{n_tok / t:12.0f}{b / t:11.0f}{ratio:>9}")
        res = {"batch": b, **{f"{k}_tokens_per_s": round(n_tok / v, 1) for k, v in rows.items()},
               **{f"{k}_reasons_per_s": round(b / v, 1) for k, v in rows.items()}}
        if "naive" in rows:
            res["speedup_vs_naive"] = round(rows["naive"] / t_ours, 2)
        if "keras_hub" in rows:
            res["speedup_vs_keras_hub"] = round(rows["keras_hub"] / t_ours, 2)
        results.append(res)
    e2e = None
    if args.end_to_end:
        e2e = bench_end_to_end(args.e2e_items, 4, args.repeats)
        print(f"\nend to end (`abkit generate`, shipped model, {e2e['reasons']} reasons x 4 candidates, batch "
              f"{e2e['batch']}): {e2e['sequences_per_s']:,.0f} sequences/s vs the raw decoder's "
              f"{e2e['raw_decoder_sequences_per_s']:,.0f} at the same shape = {e2e['end_to_end_share_of_raw']:.0%}")
    summary = {"benchmark": "generate", "backend": backend.backend_name(), "device": backend.device_kind(),
               "threads": threads, "vocab": args.vocab, "d_model": args.d_model, "layers": args.layers,
               "prompt_len": args.prompt_len, "new_tokens": args.new_tokens, "sampler": "top_k=5,temperature=1",
               "results": results, "end_to_end": e2e, "load": round(os.getloadavg()[0], 1)}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
