"""The analysis result as typed records: what `abkit analyze` writes and `abkit report` renders.

The JSON form is the analysis JSON of docs/interface.md (Analysis JSON), unchanged: every record
reads its known keys into typed fields, keeps keys it does not know in ``extra`` and remembers
which known keys were absent, so ``AnalysisResult.from_json(x).to_json() == x`` for any stored
result, older or newer. Past results (history) often carry only a few keys; the missing ones take
their field's default.

    result = AnalysisResult.from_json(json.loads(text))
    result.to_frame()                  # one row per (metric, arm, baseline)
    result.breakdown_frame("platform")
    result.decision.action

Everything statistical is decided by the analysis and stored here (``significant``,
``ci_disagrees``, guardrail ``non_inferior`` / ``shown_worse``); readers take those as they are.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:  # pandas loads on first use: `abkit --help` stays fast
    import pandas as pd

_BOOKKEEPING = ("extra", "absent")


def _dump(value: Any) -> Any:
    """A JSON value: records as objects, tuples as lists, mappings and lists copied."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _dump(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, kw_only=True)
class Record:
    """A JSON object with typed fields; unknown keys in ``extra``, known keys that were absent in ``absent``."""

    extra: Mapping[str, Any] = field(default_factory=dict)
    absent: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    # field -> how its JSON value becomes the field's value (fields not named keep the value as is)
    PARSERS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in _BOOKKEEPING)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        names = cls.field_names()
        values: dict[str, Any] = {}
        for name in names:
            if name in data:
                parse = cls.PARSERS.get(name)
                values[name] = copy.deepcopy(data[name]) if parse is None or data[name] is None else parse(data[name])
        extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in names}
        return cls(**values, extra=extra, absent=frozenset(n for n in names if n not in data))

    def to_json(self) -> dict[str, Any]:
        """The JSON object (plain dicts and lists), known keys first, then the unknown ones."""
        out = {n: _dump(getattr(self, n)) for n in self.field_names() if n not in self.absent}
        out.update(_dump(self.extra))
        return out

    def with_extra(self, **values: Any) -> Self:
        """A copy with keys set in ``extra`` (blocks a later stage adds, e.g. ``input_rows``)."""
        return dataclasses.replace(self, extra={**self.extra, **values})


def _records(kind: type[Record]) -> Callable[[Any], tuple[Any, ...]]:
    return lambda rows: tuple(kind.from_json(r) for r in rows)


def _tuple(values: Any) -> tuple[Any, ...]:
    return tuple(values)


# --- statistics rows -----------------------------------------------------------------------------

SEQUENTIAL_FIELDS = frozenset({"seq_rel_ci_low", "seq_rel_ci_high", "seq_p_value", "seq_p_value_adjusted"})


@dataclass(frozen=True, kw_only=True)
class MetricRow(Record):
    """One comparison of an arm with a baseline on one metric (``seq_*`` only with sequential tests)."""

    metric: str = ""
    arm: str = ""
    baseline: str = ""
    family: str = ""
    control_value: float | None = None
    treatment_value: float | None = None
    abs_lift: float | None = None
    abs_ci_low: float | None = None
    abs_ci_high: float | None = None
    rel_lift: float | None = None
    rel_ci_low: float | None = None
    rel_ci_high: float | None = None
    p_value: float | None = None
    p_value_adjusted: float | None = None
    cuped: bool = False
    variance_reduction: float | None = None
    warning: str | None = None
    kind: str | None = None
    higher_is_better: bool | None = None
    n_control: int | None = None
    n_treatment: int | None = None
    theta: float | None = None
    chance_to_beat: float | None = None
    expected_loss: float | None = None
    seq_rel_ci_low: float | None = None
    seq_rel_ci_high: float | None = None
    seq_p_value: float | None = None
    seq_p_value_adjusted: float | None = None
    significant: bool | None = None
    ci_disagrees: bool | None = None

    def lost_to_correction(self, alpha: float) -> bool:
        """Significant before the multiple-testing correction and not after it."""
        return (self.p_value is not None and self.p_value < alpha and self.significant is False
                and self.p_value_adjusted is not None)


@dataclass(frozen=True, kw_only=True)
class BreakdownRow(MetricRow):
    """A metric row within one value of a breakdown dimension (family ``breakdown:<dimension>``)."""

    dimension: str = ""
    value: Any = None
    users: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class GuardrailRow(Record):
    """One-sided non-inferiority of a guardrail metric in one treatment arm."""

    metric: str = ""
    arm: str = ""
    baseline: str = ""
    margin: float | None = None
    rel_lift: float | None = None
    bound: float | None = None
    p_value: float | None = None
    non_inferior: bool | None = None
    shown_worse: bool | None = None
    warning: str | None = None

    @property
    def status(self) -> str:
        """pass / fail / inconclusive, as the analysis decided it."""
        if self.shown_worse:
            return "fail"
        return "pass" if self.non_inferior else "inconclusive"


@dataclass(frozen=True, kw_only=True)
class SRM(Record):
    """Sample-ratio mismatch: χ² of the users per arm against the spec's weights."""

    p_value: float | None = None
    ok: bool | None = None
    chi2: float | None = None
    expected: tuple[float, ...] = ()

    PARSERS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"expected": _tuple}


@dataclass(frozen=True, kw_only=True)
class Decision(Record):
    """ship / keep_running / stop / no_decision, the arm, and the reasons in words."""

    action: str = "no_decision"
    arm: str | None = None
    reasons: tuple[str, ...] = ()

    PARSERS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"reasons": _tuple}


# --- text ----------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ArmText(Record):
    """Text metrics of one arm's exposed reasons; the summary fields typed, the rest (examples,
    entropy, n-gram variants, ...) in ``extra``."""

    texts: int | None = None
    distinct_1: float | None = None
    distinct_2: float | None = None
    distinct_2_at_n: float | None = None
    sample_n: int | None = None
    self_bleu: float | None = None
    personalization: float | None = None
    unfaithful_rate: float | None = None
    ad_law_violation_rate: float | None = None
    mean_length: float | None = None

    def values(self) -> dict[str, Any]:
        """Every metric of the arm by name (typed fields and the others)."""
        return self.to_json()


@dataclass(frozen=True, kw_only=True)
class TextGuardrailRow(Record):
    """A spec text guardrail evaluated on one treatment arm (``passed`` None: not evaluated)."""

    arm: str = ""
    rule: str = ""
    value: float | None = None
    passed: bool | None = None

    @property
    def status(self) -> str:
        """pass / fail / inconclusive (not evaluated), as the analysis decided it."""
        return "inconclusive" if self.passed is None else ("pass" if self.passed else "fail")


@dataclass(frozen=True, kw_only=True)
class TextFeatureRow(Record):
    """CTR or CVR of one arm's exposures whose text has one feature level (an association)."""

    arm: str = ""
    feature: str = ""
    level: str = ""
    metric: str = ""
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    se: float | None = None
    users: int | None = None
    exposures: int | None = None
    clicks: int | None = None
    orders: int | None = None
    warning: str | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class SampleRow(Record):
    """A reason text one arm showed to one viewer segment (raw text: escape it when rendering)."""

    arm: str = ""
    segment: str | None = None
    item_id: str | None = None
    title: str | None = None
    reason_id: str | None = None
    text: str | None = None
    reason_segment: str | None = None
    exposures: int | None = None


# --- time, health, planning ----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DailyPoint(Record):
    """One (local day, arm, metric): the day's value and the running value; the day's counts
    (e.g. clicks and exposures for ctr) in ``extra``."""

    date: str = ""
    arm: str = ""
    metric: str = ""
    value: float | None = None
    cumulative: float | None = None


@dataclass(frozen=True, kw_only=True)
class Health(Record):
    """Data checks of the warehouse: quarantined rows per table, freshness (UTC ISO timestamps)."""

    quarantine: dict[str, int] = field(default_factory=dict)
    latest_ingested_at: dict[str, str | None] = field(default_factory=dict)
    latest_exposure: str | None = None

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine.values())

    @property
    def latest_ingest(self) -> str | None:
        return max((v for v in self.latest_ingested_at.values() if v), default=None)


@dataclass(frozen=True, kw_only=True)
class ArmPlanning(Record):
    """Power at the spec's MDE with the standard error reached, and the users it would take."""

    arm: str = ""
    users_per_arm: int = 0
    se_rel: float = 0.0
    power: float = 0.0
    users_needed: int = 0

    @property
    def users_still_needed(self) -> int:
        return max(0, self.users_needed - self.users_per_arm)


@dataclass(frozen=True, kw_only=True)
class Planning(Record):
    """Power of the primary metric at the spec's relative MDE, per treatment arm."""

    metric: str = ""
    mde: float | None = None
    alpha: float | None = None
    power: float | None = None
    arms: tuple[ArmPlanning, ...] = ()

    PARSERS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"arms": _records(ArmPlanning)}


# --- the result ----------------------------------------------------------------------------------

def _breakdowns(value: Any) -> dict[str, tuple[BreakdownRow, ...]]:
    if isinstance(value, Mapping):
        return {str(d): tuple(BreakdownRow.from_json(r) for r in rows) for d, rows in value.items()}
    raise ValueError("breakdowns: expected an object {dimension: [rows]}")


def _diversity(value: Any) -> dict[str, ArmText]:
    return {str(arm): ArmText.from_json(v) for arm, v in value.items()}


@dataclass(frozen=True, kw_only=True)
class AnalysisResult(Record):
    """One analysis of one experiment (docs/interface.md, Analysis JSON). Times are UTC ISO strings."""

    experiment: str = ""
    control: str = ""
    window_utc: tuple[str, ...] = ()
    as_of: str | None = None
    computed_at: str | None = None
    users: dict[str, int] = field(default_factory=dict)
    excluded_multi_arm_users: int | None = None
    excluded_bot_users: int | None = None
    users_before_exclusion: dict[str, int] = field(default_factory=dict)
    exposures_before_exclusion: dict[str, int] = field(default_factory=dict)
    unknown_arm_exposures: int | None = None
    unknown_arms: dict[str, int] = field(default_factory=dict)
    open_window_users: dict[str, int] = field(default_factory=dict)
    srm: SRM = field(default_factory=SRM)
    alpha: float = 0.05
    correction: str | None = None
    sequential: bool = False
    planned_users_per_arm: int | None = None
    planned_users_source: str | None = None
    sample_reached: bool | None = None
    winsorize_caps: dict[str, float] = field(default_factory=dict)
    metrics: tuple[MetricRow, ...] = ()
    guardrails: tuple[GuardrailRow, ...] = ()
    breakdowns: dict[str, tuple[BreakdownRow, ...]] = field(default_factory=dict)
    diversity: dict[str, ArmText] = field(default_factory=dict)
    text_guardrails: tuple[TextGuardrailRow, ...] = ()
    decision: Decision = field(default_factory=Decision)
    notes: tuple[str, ...] = ()
    daily: tuple[DailyPoint, ...] = ()
    text_features: tuple[TextFeatureRow, ...] = ()
    text_features_note: str | None = None
    samples: tuple[SampleRow, ...] = ()
    health: Health | None = None
    planning: Planning | None = None

    PARSERS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "window_utc": _tuple,
        "srm": SRM.from_json,
        "metrics": _records(MetricRow),
        "guardrails": _records(GuardrailRow),
        "breakdowns": _breakdowns,
        "diversity": _diversity,
        "text_guardrails": _records(TextGuardrailRow),
        "decision": Decision.from_json,
        "notes": _tuple,
        "daily": _records(DailyPoint),
        "text_features": _records(TextFeatureRow),
        "samples": _records(SampleRow),
        "health": Health.from_json,
        "planning": Planning.from_json,
    }

    @property
    def time(self) -> str | None:
        """The data time this result stands for: ``as_of``, else when it was computed."""
        return self.as_of or self.computed_at

    def rows_vs_control(self, metric: str) -> list[MetricRow]:
        """The rows of ``metric`` comparing a treatment arm with the control."""
        return [r for r in self.metrics if r.metric == metric and r.baseline == self.control]

    def to_frame(self) -> pd.DataFrame:
        """One row per (metric, arm, baseline): the ``metrics`` list as a DataFrame."""
        return _frame(self.metrics)

    def breakdown_frame(self, dimension: str) -> pd.DataFrame:
        """One row per (dimension value, metric, arm) of one breakdown."""
        return _frame(self.breakdowns.get(dimension, ()))

    def daily_frame(self) -> pd.DataFrame:
        return _frame(self.daily)


def _frame(records: Sequence[Record]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([r.to_json() for r in records])


__all__ = ["AnalysisResult", "ArmPlanning", "ArmText", "BreakdownRow", "DailyPoint", "Decision", "GuardrailRow",
           "Health", "MetricRow", "Planning", "Record", "SRM", "SEQUENTIAL_FIELDS", "SampleRow", "TextFeatureRow",
           "TextGuardrailRow"]
