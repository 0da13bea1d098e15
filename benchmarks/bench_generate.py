"""Decoding throughput: naive loop vs keras-hub's cached compiled generate() vs our decoder.

Same model size, batch, prompt length and number of new tokens for all three; randomly
initialised weights (throughput does not depend on them); the same sampler (top-k, k=5,
temperature 1, as keras-hub's default TopKSampler) and no early stopping, so every row
produces exactly `--new-tokens` tokens. A last row times our decoder with every production
feature on (top-p 0.95, repetition penalty 1.2, compliance automaton) for its real cost.

    python benchmarks/bench_generate.py            # vocab 5000, d 256, 4 layers, batch 256, 32 new
    python benchmarks/bench_generate.py --quick    # a small run
    KERAS_BACKEND=jax python benchmarks/bench_generate.py --batch-sizes 1024,4096,8192   # GPU

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
    summary = {"benchmark": "generate", "backend": backend.backend_name(), "device": backend.device_kind(),
               "threads": threads, "vocab": args.vocab, "d_model": args.d_model, "layers": args.layers,
               "prompt_len": args.prompt_len, "new_tokens": args.new_tokens, "sampler": "top_k=5,temperature=1",
               "results": results}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
