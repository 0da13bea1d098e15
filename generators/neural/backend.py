"""The only backend-specific code of the neural generator: compiling a function with XLA and
setting CPU threads. Everything else is Keras 3 ops.

- TensorFlow: `tf.function(jit_compile=True)` (model variables are captured as resources).
- JAX: `jax.jit`, with the model's variables passed in as arguments through a
  `keras.StatelessScope` (the same pattern keras-hub's CausalLM uses) instead of being baked in
  as constants.
- Other backends (torch, numpy): the plain eager function.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import keras


def backend_name() -> str:
    return keras.backend.backend()


def configure_threads(n_threads: int | None = None) -> int:
    """Use all cores on CPU (intra-op = cores, inter-op = 1 for TF). Call before any op runs."""
    n = n_threads or os.cpu_count() or 1
    if backend_name() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # the runtime is already initialized: keep its settings
            pass
    return n


def device_kind() -> str:
    """'gpu' when the active backend sees an accelerator, else 'cpu'."""
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if name == "jax":
        import jax

        return "cpu" if jax.default_backend() == "cpu" else "gpu"
    return "cpu"


def jit(fn: Callable[..., Any], variables: list[Any] | None = None) -> Callable[..., Any]:
    """Compile `fn(*tensors)` with XLA on the active backend.

    `variables`: Keras variables `fn` reads (e.g. `model.variables`); required on JAX so they
    are traced as arguments rather than constants. Arguments must be tensors or numpy arrays.
    """
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True, reduce_retracing=False)
    if name == "jax":
        import jax

        variables = list(variables or [])

        def stateless(values: list[Any], *args: Any) -> Any:
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return fn(*args)

        compiled = jax.jit(stateless)

        def call(*args: Any) -> Any:
            return compiled([v.value for v in variables], *args)

        return call
    return fn
