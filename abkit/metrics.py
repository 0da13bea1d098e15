"""The metric catalogue (docs/interface.md, Metrics): one place that says what each metric key means.

Each metric is computed per user in SQL (columns of the per-user table) and compared on
sufficient statistics. A *mean* metric averages a per-user value; a *proportion* is a mean of
a 0/1 value; a *ratio* metric is Σ numerator / Σ denominator over users (delta method).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricKind = Literal["mean", "proportion", "ratio"]


@dataclass(frozen=True)
class MetricDef:
    key: str
    kind: MetricKind
    numerator: str  # per-user column (SQL expression name in the per-user table)
    denominator: str | None  # per-user column for ratio metrics
    covariate: str | None  # per-user pre-period column used by CUPED
    label_zh: str
    description: str
    higher_is_better: bool = True


METRICS: dict[str, MetricDef] = {
    m.key: m
    for m in [
        MetricDef("ctr", "ratio", "clicks", "exposures", "pre_clicks", "点击率",
                  "Σ attributed clicks / Σ exposures (delta method over users)"),
        MetricDef("cvr", "ratio", "orders", "clicks", "pre_orders", "转化率(点击后)",
                  "Σ attributed orders / Σ attributed clicks (diagnostic; conditions on clicks)"),
        MetricDef("conversion_rate", "proportion", "converted", None, "pre_converted", "下单用户占比",
                  "share of users with at least one attributed order"),
        MetricDef("orders_per_user", "mean", "orders", None, "pre_orders", "人均订单",
                  "mean attributed orders per user"),
        MetricDef("revenue_per_user", "mean", "revenue", None, "pre_revenue", "人均GMV",
                  "mean attributed order revenue per user"),
        MetricDef("net_revenue_per_user", "mean", "net_revenue", None, "pre_revenue", "人均净收入",
                  "mean attributed revenue minus refunds of those orders"),
        MetricDef("add_to_cart_rate", "ratio", "carts", "exposures", "pre_carts", "加购率",
                  "Σ attributed add-to-cart events / Σ exposures"),
        MetricDef("clicks_per_user", "mean", "clicks", None, "pre_clicks", "人均点击",
                  "mean attributed clicks per user"),
        MetricDef("refund_rate", "ratio", "refunded_orders", "orders", None, "退款率",
                  "Σ refunded attributed orders / Σ attributed orders", higher_is_better=False),
    ]
}

CORE_METRICS: tuple[str, ...] = ("ctr", "cvr", "conversion_rate", "orders_per_user", "revenue_per_user")


def metric(key: str) -> MetricDef:
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"unknown metric {key!r}; known: {', '.join(METRICS)}") from None
