"""The neural reason generator (Keras 3, any backend).

tokenizer.py   character tokenizer + control tokens (stdlib only)
model.py       decoder-only Transformer prefix LM with `call_with_cache` (keras + numpy)
sampler.py     temperature / top-k / top-p / repetition penalty / banned mask (keras)
constraints.py token automaton for banned terms with allowlist precedence (numpy)
decode.py      cached, XLA-compiled batched decoding + the naive baseline (keras + numpy)
backend.py     the only backend-specific code: jit + CPU threads
train.py       bucketed training loop with checkpoints (keras + numpy)
data.py, recipe.py, evaluate.py, generator.py   corpus I/O, the recipe, quality bars, the protocol
"""
