"""The neural generator's tests again under KERAS_BACKEND=jax on CPU (the GPU path is JAX).

The backend is fixed when keras is first imported, so the other backend runs in a subprocess:
this test re-runs the backend-sensitive neural tests (compiled decoding, constraints, sampler, the
shipped model behind the generator protocol; not the slow training run) with KERAS_BACKEND=jax and
fails with the subprocess's failures. Skipped when jax is not installed or this run already is JAX.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # compiles every decoder again under XLA-on-JAX (minutes on 2 busy cores)

ROOT = Path(__file__).resolve().parents[3]


def test_neural_tests_pass_under_jax():
    pytest.importorskip("jax")
    if os.environ.get("KERAS_BACKEND") == "jax":
        pytest.skip("this run already is the JAX run")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    here = ROOT / "tests/generators/neural"
    files = [str(here / f"test_{name}.py") for name in ("decode", "constraints", "sampler", "generator")]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files,
         "-k", "not train_generator_cli_end_to_end"],  # the training CLI run (minutes under JAX) stays with the default backend
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    tail = "\n".join(proc.stdout.splitlines()[-30:])
    assert proc.returncode == 0, f"neural tests under KERAS_BACKEND=jax failed:\n{tail}"
    assert " passed" in tail, tail  # something actually ran (this test skips itself in there)
