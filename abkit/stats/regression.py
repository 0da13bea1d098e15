"""Regression adjustment (CUPED++ style): several pre-exposure covariates, from cross-products.

Per arm the warehouse returns the cross-products of the covariate vector x (p columns: pre-period
metric values, 0/1 indicators of user attributes with one level dropped) with itself, with y and
with d (ratio metrics): n, Σx, Σxxᵀ, Σxy, Σxd next to the usual (Σy, Σy², Σd, Σd², Σyd). Nothing here
sees a row.

θ is the least-squares coefficient of the influence value L on x over the two compared arms
pooled, as one sample — L = y for a mean, the linearization (y − R·d)/d̄ for a ratio with R and d̄
of the pooled sample — exactly as single-covariate CUPED (abkit.stats.cuped) pools its θ:

    θ = S_xx⁻¹ S_xL        (S: pooled sample covariances; a pseudo-inverse for collinear columns)

The adjustment then *is* CUPED on the one scalar covariate z = θᵀx (whose own pooled CUPED
coefficient is 1), so each arm's sufficient statistics are projected onto z and handed to
`compare`: Welch's test, relative lifts, small-sample rules and warnings are shared with CUPED, and
with p = 1 the result equals CUPED's to round-off. R² = θᵀS_xL / Var(L) on the pooled sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from abkit.stats.compare import compare
from abkit.stats.types import SufficientStats, TestResult
from abkit.stats.util import finite_or_none


@dataclass(frozen=True)
class CrossProducts:
    """One arm's sums for one metric with a vector of p covariates (``names``)."""

    n: int
    sum_y: float
    sum_y2: float
    sum_x: np.ndarray  # (p,)
    sum_xx: np.ndarray  # (p, p)
    sum_xy: np.ndarray  # (p,)
    names: tuple[str, ...] = ()
    sum_d: float | None = None
    sum_d2: float | None = None
    sum_yd: float | None = None
    sum_xd: np.ndarray | None = None  # (p,), ratio metrics only

    def __post_init__(self) -> None:
        p = len(self.sum_x)
        if np.shape(self.sum_xx) != (p, p) or np.shape(self.sum_xy) != (p,):
            raise ValueError(f"cross-products of {p} covariates need sum_xx ({p}, {p}) and sum_xy ({p},)")
        if self.names and len(self.names) != p:
            raise ValueError(f"{len(self.names)} covariate names for {p} covariates")
        if self.sum_d is not None and (self.sum_xd is None or np.shape(self.sum_xd) != (p,)):
            raise ValueError("a ratio metric needs sum_xd with one entry per covariate")

    @property
    def is_ratio(self) -> bool:
        return self.sum_d is not None

    def base(self) -> SufficientStats:
        """The arm's sums without covariates (the unadjusted comparison)."""
        return SufficientStats(self.n, self.sum_y, self.sum_y2, self.sum_d, self.sum_d2, self.sum_yd)

    def project(self, theta: np.ndarray) -> SufficientStats:
        """The arm's sums with the single covariate z = θᵀx."""
        xd = None if self.sum_xd is None else float(theta @ self.sum_xd)
        return replace(self.base(), sum_x=float(theta @ self.sum_x), sum_x2=float(theta @ self.sum_xx @ theta),
                       sum_xy=float(theta @ self.sum_xy), sum_xd=xd)

    def subset(self, keep: Sequence[int]) -> CrossProducts:
        """The same arm with only the covariates at positions ``keep``."""
        k = np.asarray(keep, dtype=int)
        return replace(self, sum_x=self.sum_x[k], sum_xx=self.sum_xx[np.ix_(k, k)], sum_xy=self.sum_xy[k],
                       names=tuple(self.names[i] for i in k) if self.names else (),
                       sum_xd=None if self.sum_xd is None else self.sum_xd[k])


@dataclass(frozen=True)
class Fit:
    """Pooled coefficients θ (one per covariate), R² of L on x, the pooled covariate means."""

    theta: np.ndarray
    r2: float
    x_mean: np.ndarray
    names: tuple[str, ...] = ()
    dropped: tuple[str, ...] = field(default=())  # constant over both arms: left out


def _pooled_moments(arms: Sequence[CrossProducts]) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """(S_xx, S_xL, Var(L), x̄) of the arms taken as one sample."""
    n = sum(a.n for a in arms)
    sx = np.sum([a.sum_x for a in arms], axis=0)
    sxx = np.sum([a.sum_xx for a in arms], axis=0)
    sxy = np.sum([a.sum_xy for a in arms], axis=0)
    sy, sy2 = sum(a.sum_y for a in arms), sum(a.sum_y2 for a in arms)
    s_xx = (sxx - np.outer(sx, sx) / n) / (n - 1)
    s_xl = (sxy - sx * sy / n) / (n - 1)
    var_l = (sy2 - sy * sy / n) / (n - 1)
    if arms[0].is_ratio:
        sd = sum(float(a.sum_d or 0.0) for a in arms)
        sd2 = sum(float(a.sum_d2 or 0.0) for a in arms)
        syd = sum(float(a.sum_yd or 0.0) for a in arms)
        sxd = np.sum([a.sum_xd for a in arms if a.sum_xd is not None], axis=0)
        r, d_bar = sy / sd, sd / n
        s_xd = (sxd - sx * sd / n) / (n - 1)
        s_xl = (s_xl - r * s_xd) / d_bar
        var_d = (sd2 - sd * sd / n) / (n - 1)
        cov_yd = (syd - sy * sd / n) / (n - 1)
        var_l = (var_l - 2 * r * cov_yd + r * r * var_d) / (d_bar * d_bar)
    return s_xx, s_xl, var_l, sx / n


def fit(arms: Sequence[CrossProducts]) -> Fit | None:
    """θ pooled over ``arms``; None when no covariate varies or a ratio's denominator sums to 0."""
    if sum(a.n for a in arms) < 3 or (arms[0].is_ratio and not sum(float(a.sum_d or 0.0) for a in arms)):
        return None
    s_xx, s_xl, var_l, x_mean = _pooled_moments(arms)
    diag = np.diag(s_xx)
    scale = np.maximum(1.0, np.diag(np.sum([a.sum_xx for a in arms], axis=0)) / sum(a.n for a in arms))
    varies = diag > 1e-12 * scale
    names = arms[0].names
    if not varies.any():
        return None
    keep = np.flatnonzero(varies)
    sub_xx, sub_xl = s_xx[np.ix_(keep, keep)], s_xl[keep]
    # minimum-norm least squares: collinear indicator columns share their coefficient
    sub_theta = np.linalg.lstsq(sub_xx, sub_xl, rcond=1e-10)[0]
    theta = np.zeros(len(diag))
    theta[keep] = sub_theta
    explained = float(theta @ s_xl)
    r2 = explained / var_l if var_l > 0 else 0.0
    dropped = tuple(names[i] for i in np.flatnonzero(~varies)) if names else ()
    return Fit(theta, float(min(max(r2, 0.0), 1.0)), x_mean, names, dropped)


def compare_adjusted(control: CrossProducts, treatment: CrossProducts, **kwargs: object) -> TestResult:
    """Treatment vs control with regression adjustment on all covariates (``compare``'s keywords).

    The row's ``extra`` holds ``adjustment`` ('regression', or 'none' when no covariate varies),
    ``covariates`` (the names used), ``r2`` and ``theta`` per covariate."""
    if control.is_ratio != treatment.is_ratio:
        raise ValueError("control and treatment must both be ratio metrics or both be means")
    kwargs.pop("cuped", None)
    f = fit([control, treatment])
    if f is None:
        res = compare(control.base(), treatment.base(), cuped=False, **kwargs)  # type: ignore[arg-type]
        res.extra.update(adjustment="none", covariates=[], r2=None)
        return res
    res = compare(control.project(f.theta), treatment.project(f.theta), cuped=True, **kwargs)  # type: ignore[arg-type]
    used = [n for n in f.names if n not in f.dropped]
    res = replace(res, theta=None)  # the coefficient on z is 1 by construction; θ per covariate is below
    res.extra.update(
        adjustment="regression" if res.cuped else "none",
        covariates=used,
        r2=finite_or_none(f.r2),
        theta_by_covariate={n: finite_or_none(float(t)) for n, t in zip(f.names, f.theta, strict=True)},
        covariates_dropped=list(f.dropped),
    )
    return res


def from_sufficient(s: SufficientStats, name: str = "x") -> CrossProducts | None:
    """A single-covariate arm as cross-products (None without a covariate)."""
    if s.sum_x is None or s.sum_x2 is None or s.sum_xy is None:
        return None
    xd = None if s.sum_xd is None else np.array([s.sum_xd])
    return CrossProducts(s.n, s.sum_y, s.sum_y2, np.array([s.sum_x]), np.array([[s.sum_x2]]), np.array([s.sum_xy]),
                         (name,), s.sum_d, s.sum_d2, s.sum_yd, xd if s.is_ratio else None)
