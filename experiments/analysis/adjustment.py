"""Which variance adjustment a metric row gets: none, single-covariate CUPED, or regression.

Regression adjustment applies when the spec has ``covariates:`` and the warehouse returned the
cross-products (experiments/analysis/covariates.py); otherwise CUPED as ``cuped:`` says. Every row
says which it got (``adjustment``), the covariates used, R² of the fit and the variance reduction.
"""

from __future__ import annotations

from typing import Any

from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.compare import compare
from abkit.stats.regression import CrossProducts, compare_adjusted, fit, from_sufficient
from abkit.stats.types import SufficientStats, TestResult
from experiments.analysis.covariates import Design, metric_covariates

Cross = dict[str, dict[str, CrossProducts]]  # arm -> metric -> cross-products


def compare_metric(spec: Spec, metric: str, arm: str, base: str, c: SufficientStats, t: SufficientStats,
                   cross: tuple[Cross, Design] | None = None) -> TestResult:
    """The metric's comparison with the spec's adjustment; ``extra`` holds adjustment, covariates and r2."""
    if cross is not None and arm in cross[0] and base in cross[0] and c.n >= 2 and t.n >= 2:
        sums, d = cross
        keep = metric_covariates(spec, metric, d.names, d)
        return compare_adjusted(sums[base][metric].subset(keep), sums[arm][metric].subset(keep), alpha=spec.alpha,
                                kind=METRICS[metric].kind)
    covariate = METRICS[metric].covariate
    r = compare(c, t, alpha=spec.alpha, cuped=spec.cuped and covariate is not None, kind=METRICS[metric].kind)
    info: dict[str, Any] = {"adjustment": "none", "covariates": [], "r2": None}
    if r.cuped and covariate is not None:
        cc, ct = from_sufficient(c, covariate), from_sufficient(t, covariate)
        f = fit([cc, ct]) if cc is not None and ct is not None else None
        info = {"adjustment": "cuped", "covariates": [covariate], "r2": f.r2 if f is not None else None}
    r.extra.update(info)
    return r
