"""Experiment specs (docs/interface.md, Spec): pydantic models, loaded from YAML with one-line errors.

    spec = load_spec("experiments/reason_gen_v1.yaml")   # raises SpecError("file: key: problem")
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from abkit.errors import AbkitError
from abkit.metrics import CORE_METRICS, METRICS
from abkit.schema import LOG_TABLES

KEY_PATTERN = re.compile(r"^[a-z0-9_]+$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hour|hours|d|day|days)\s*$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hours": 3600,
                 "d": 86400, "day": 86400, "days": 86400}
# Plausible bounds: a spec outside them is a typo, and the SQL's timestamp arithmetic would overflow.
FIRST_DATE, LAST_DATE = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
MAX_DURATION = dt.timedelta(days=3650)
WINDOW_BOUNDS = {  # key: (exclusive lower bound, inclusive upper bound)
    "click_window": (dt.timedelta(0), dt.timedelta(days=30)),
    "order_window": (dt.timedelta(0), dt.timedelta(days=90)),
}
LOOKBACK_MAX = dt.timedelta(days=365)
TEXT_METRICS = ("distinct_1", "distinct_2", "distinct_3", "distinct_4", "distinct_2_at_n", "self_bleu",
                "ad_law_violation_rate", "unfaithful_rate", "unsupported_rate", "repetition_rate",
                "unique_reason_ratio", "personalization", "attribute_coverage", "mean_length")


class SpecError(AbkitError, ValueError):
    """A spec problem, as one line: ``file: key: problem``."""


def parse_duration(value: Any) -> dt.timedelta:
    """Accept ``1h``, ``24h``, ``14d``, ``30min``, a number of seconds, or a timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds is not None:
        if not math.isfinite(seconds) or abs(seconds) > MAX_DURATION.total_seconds():
            raise ValueError(f"{value!r} is out of range (at most {MAX_DURATION.days} days)")
        return dt.timedelta(seconds=seconds)
    raise ValueError(f"{value!r} is not a duration (use e.g. 30min, 1h, 24h, 14d)")


def normalize_weights(weights: list[float]) -> list[float]:
    """Positive weights scaled to sum to 1 (left as they are when they already do, to the last
    bits, so that GrowthBook's SDK given the same numbers buckets identically)."""
    total = math.fsum(weights)
    if not (math.isfinite(total) and total > 0):
        raise ValueError(f"weights must be positive finite numbers, got {weights}")
    return list(weights) if abs(total - 1.0) <= 1e-12 else [w / total for w in weights]


def check_metric(key: str) -> str:
    """A metric key of abkit.metrics, or a ValueError naming the known ones."""
    if key not in METRICS:
        raise ValueError(f"unknown metric {key!r} (known: {', '.join(METRICS)})")
    return key


Duration = Annotated[dt.timedelta, Field(json_schema_extra={"examples": ["1h", "24h", "14d"]})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneratorSettings(_Model):
    """How an arm's reason texts are produced (see generators/)."""

    type: Literal["template", "neural", "external"] = Field(
        description="template: the rule-based control texts; neural: the Keras reason model; "
        "external: texts come from elsewhere (ingested with `abkit ingest reasons`).")
    model: str | None = Field(default=None,
                              description="Path to a trained neural model; null = the shipped one.")
    personalized: bool = Field(default=True,
                               description="Neural: condition on the user segment; the template ignores it.")
    temperature: float = Field(default=0.8, gt=0, le=5, description="Neural sampling temperature.")
    top_k: int = Field(default=0, ge=0, description="Neural: sample among the k most likely tokens; 0 = off.")
    top_p: float = Field(default=0.95, gt=0, le=1, description="Neural: nucleus sampling mass.")
    repetition_penalty: float = Field(default=1.2, ge=1.0, le=5.0,
                                      description="Neural: penalty on tokens already generated.")
    num_candidates: int = Field(default=4, ge=1, le=64,
                                description="Neural: candidates sampled per request; the candidate filter picks one.")
    max_new_tokens: int = Field(default=48, ge=4, le=256, description="Neural: longest text, in tokens.")
    length: Literal["S", "M", "L"] = Field(
        default="M", description="Length bucket: S 8–16, M 17–32, L 33–60 characters.")
    constrained: bool = Field(default=True, description="Mask banned absolute terms (广告法) at decode time.")
    seed: int = Field(default=0, description="Seed of the generator's sampling.")
    # Simulation only: share of texts whose claims are corrupted (e.g. an invented discount).
    inject_unfaithful_rate: float = Field(
        default=0.0, ge=0, le=1,
        description="Simulation only: share of texts whose claims are corrupted (e.g. an invented discount).")


class Arm(_Model):
    """One arm of the experiment."""

    name: str = Field(min_length=1, description="Free text (Chinese is fine); unique within the spec.")
    weight: float = Field(description="Share of enrolled users: any positive number; the arms' weights are "
                                      "normalized to sum to 1 (1:1 is valid).")
    generator: GeneratorSettings | None = Field(
        default=None, description="How the arm's texts are generated; null when they come from elsewhere.")
    description: str | None = Field(default=None, description="Free text for the report.")

    @field_validator("weight")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not (v > 0 and math.isfinite(v)):
            raise ValueError("must be a positive number")
        return v


class Guardrail(_Model):
    """A behavioural guardrail: one-sided non-inferiority of the metric's relative lift."""

    metric: str = Field(description="A metric key, e.g. conversion_rate.")
    margin: float = Field(default=0.02, gt=0, lt=1,
                          description="Relative margin: the lift may not be worse than −margin (0.02 = 2%).")

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_metric(v)


class TextGuardrail(_Model):
    """A guardrail on the texts an arm showed, e.g. ``unfaithful_rate <= 0.01``."""

    metric: str = Field(description="A text metric of the diversity block, e.g. unfaithful_rate, distinct_2_at_n.")
    op: Literal["<=", "<", ">=", ">", "=="] = Field(description="Comparison the arm's value must satisfy.")
    value: float | Literal["control"] = Field(description="A number, or `control` to compare with the control arm.")
    tolerance: float = Field(default=0.0,
                             description="With value `control`: allowed shortfall against the control arm.")

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in TEXT_METRICS:
            raise ValueError(f"unknown text metric {v!r} (known: {', '.join(TEXT_METRICS)})")
        return v

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            m = re.match(r"^\s*([a-z0-9_]+)\s*(<=|>=|==|<|>)\s*(\S+)\s*$", data)
            if not m:
                raise ValueError(f"{data!r} is not of the form 'metric <= value'")
            value: Any = m.group(3)
            if value != "control":
                try:
                    value = float(value)
                except ValueError:
                    raise ValueError(f"{data!r}: value must be a number or 'control'") from None
            return {"metric": m.group(1), "op": m.group(2), "value": value}
        return data


# Fields set at exposure time (or after it): treatment can change them, so they never adjust.
EXPOSURE_TIME_FIELDS = frozenset({"platform", "arm", "experiment", "ts", "item_id", "reason_id", "session_id",
                                  "position", "fallback", "exposure_id", "ingested_at"})
# Item-table attributes: a user sees items of many, so they cannot slice users.
ITEM_FIELDS = frozenset(c.name for c in LOG_TABLES["items"].fields) - {"item_id"}
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Covariates(_Model):
    """Regression adjustment (CUPED++ style): several pre-exposure covariates per metric.

    Coefficients are pooled over the two compared arms and estimated in SQL from cross-products;
    with one covariate this is CUPED. Only pre-exposure values qualify: pre-period metric values and
    user attributes from the users table — never exposure-time fields such as `platform`."""

    pre_period: Literal["all"] | list[str] = Field(
        default="all", description="Metrics whose pre-period values adjust every metric (`all`: every metric "
                                   "with a pre-period covariate); each metric's own is always included.")
    attributes: list[str] = Field(
        default=[], description="Categorical users-table columns (segment, or keys of its extra columns, e.g. "
                                "is_new, tenure_bucket), as post-stratification indicators.")
    numeric_attributes: list[str] = Field(
        default=[], description="Numeric users-table columns fixed before the experiment (e.g. pre_sessions).")
    max_levels: int = Field(default=30, ge=2, le=200,
                            description="Most levels one categorical attribute may have; rarer levels are pooled.")

    @field_validator("pre_period")
    @classmethod
    def _pre(cls, v: Literal["all"] | list[str]) -> Literal["all"] | list[str]:
        for i, m in enumerate([] if v == "all" else v):
            try:
                check_metric(m)
            except ValueError as exc:
                raise ValueError(f"[{i}]: {exc}") from None
        return v

    @field_validator("attributes", "numeric_attributes")
    @classmethod
    def _columns(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if not _COLUMN.match(name):
                raise ValueError(f"[{i}]: {name!r} is not a column name")
            if name in EXPOSURE_TIME_FIELDS:
                raise ValueError(f"[{i}]: {name!r} is set at exposure time and can be affected by the treatment; "
                                 f"only pre-exposure user attributes qualify")
        return v


class Heterogeneity(_Model):
    """Heterogeneous-effects explorer (exploratory): the primary metric's lift in every slice of one or two
    crossed user-level dimensions, FDR-controlled calls, shrunk lifts and a per-segment policy."""

    dimensions: list[str] = Field(min_length=1, description="Users-table attributes to slice by (segment, or keys "
                                  "of its extra columns such as is_new, tenure_bucket); pairs are crossed.")
    min_users: int = Field(default=200, ge=2, description="Smallest slice tested: users in each arm.")
    policy_dimension: str | None = Field(default=None,
                                         description="Dimension of the per-segment policy (default: the first).")

    @field_validator("dimensions")
    @classmethod
    def _dims(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if name in ITEM_FIELDS:
                raise ValueError(f"[{i}]: {name!r} is an item attribute: it splits a user's exposures, not users, and "
                                 f"the explorer slices users; see it per value with `breakdowns` instead")
        return Covariates._columns(v)

    @model_validator(mode="after")
    def _policy(self) -> Heterogeneity:
        if self.policy_dimension is not None and self.policy_dimension not in self.dimensions:
            raise _KeyedError("heterogeneity.policy_dimension", f"{self.policy_dimension!r} is not one of dimensions")
        return self

    @property
    def policy_on(self) -> str:
        return self.policy_dimension or self.dimensions[0]


class Sequential(_Model):
    """Always-valid (sequential) inference, for looking at results while the experiment runs."""

    enabled: bool = Field(default=False, description="Decisions use always-valid p-values and intervals.")
    tuning_n: int | None = Field(
        default=None, gt=0,
        description="N*: users of one comparison at which the confidence sequence is tightest; null = from the "
                    "plan (planned users per arm × 2).")


class Namespace(_Model):
    """GrowthBook namespace: the experiment only enrols users whose namespace hash is in range."""

    name: str = Field(min_length=1,
                      description="Namespace name; experiments sharing it with disjoint ranges never share a user.")
    range: tuple[float, float] = Field(description="[low, high) of the namespace hash, 0 <= low < high <= 1.")

    @field_validator("range")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not (0 <= v[0] < v[1] <= 1):
            raise ValueError("must be [low, high] with 0 <= low < high <= 1")
        return v


class Rollout(_Model):
    """A guarded ramp (``abkit rollout``): coverage steps with fixed weights, each held for at
    least ``min_days`` and ``min_users_per_arm`` before the next; a harmed guardrail or an SRM
    sets coverage to 0 instead."""

    steps: list[float] = Field(min_length=1, description="Increasing coverages in (0, 1], e.g. [0.05, 0.25, 0.5, 1].")
    min_days: float = Field(default=1.0, gt=0, description="Days each step is held at least before the next.")
    min_users_per_arm: int = Field(default=100, ge=0,
                                   description="Users per arm each step needs at least before the next.")

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[float]) -> list[float]:
        for i, s in enumerate(v):
            if not 0 < s <= 1:
                raise ValueError(f"[{i}]: {s:g} is not a coverage in (0, 1]")
            if i and s <= v[i - 1]:
                raise ValueError(f"[{i}]: {s:g} does not increase on {v[i - 1]:g}")
        return v


class Spec(_Model):
    """An experiment spec (YAML)."""

    key: str = Field(description="Experiment key, [a-z0-9_]+; also the default hash seed.")
    name: str | None = Field(default=None, description="Display name.")
    hypothesis: str | None = Field(default=None, description="What the experiment expects, for the report.")
    owner: str | None = Field(default=None, description="Who owns the experiment.")
    description: str | None = Field(default=None, description="Free text for the report.")

    arms: list[Arm] = Field(min_length=2, description="At least two arms; the first is the control unless "
                            "`control` names one.")
    control: str | None = Field(default=None, description="Name of the control arm (default: the first arm).")
    coverage: float = Field(default=1.0, gt=0, le=1,
                            description="Share of users enrolled (GrowthBook coverage).")
    hash_seed: str | None = Field(default=None, description="Seed of the assignment hash (default: `key`).")
    hash_version: Literal[1, 2] = Field(default=2, description="GrowthBook hash version.")
    namespace: Namespace | None = Field(default=None,
                                        description="GrowthBook namespace, for mutually exclusive experiments.")
    holdout: float = Field(default=0.0, ge=0, lt=1,
                           description="Share of users held out of every experiment (one seed shared by all specs).")

    timezone: str = Field(default="UTC", description="IANA time zone of `start` and `end`.")
    start: dt.date = Field(description="First day of the window (00:00 in `timezone`); "
                           "between 2000-01-01 and 2099-12-31.")
    end: dt.date = Field(description="Day the window ends, exclusive (00:00 in `timezone`); "
                         "between 2000-01-01 and 2099-12-31.")

    primary_metric: str = Field(description="The metric the decision rests on (a metric key).")
    secondary_metrics: list[str] | None = Field(
        default=None, description="Secondary metrics (default: the other core metrics).")
    guardrails: list[Guardrail] = Field(default=[],
                                        description="Behavioural guardrails: non-inferiority against a margin.")
    text_guardrails: list[TextGuardrail] = Field(
        default=[], description="Text guardrails, as mappings or strings such as `unfaithful_rate <= 0.02`.")
    comparisons: list[tuple[str, str]] = Field(
        default=[], description="Extra [treatment, baseline] pairs between arms.")
    dimensions: list[str] = Field(default=[],
                                  description="Breakdown columns (exposure extra or user columns).")
    max_breakdown_values: int = Field(
        default=50, gt=0, description="Per breakdown dimension: the values with the most users kept; the rest "
        "are pooled into one `(other: N values)` row (and a note says so).")

    alpha: float = Field(default=0.05, description="Significance level, between 0 and 0.5 (two-sided tests).")
    power: float = Field(default=0.8, gt=0, lt=1, description="Power used to size the experiment.")
    mde: float | None = Field(default=None, gt=0,
                              description="Relative minimum detectable effect of the primary metric (0.02 = 2%).")
    planned_users_per_arm: int | None = Field(
        default=None, gt=0, description="Planned users per arm; overrides the size computed from `mde` and `power`.")
    correction: Literal["holm", "bh", "none"] = Field(
        default="holm", description="Multiple-testing correction within each family.")
    cuped: bool = Field(default=True,
                        description="Reduce variance with pre-period data (CUPED) where a covariate exists.")
    covariates: Covariates | None = Field(
        default=None, description="Opt-in regression adjustment on several pre-exposure covariates (CUPED++); "
                                  "unset: single-covariate CUPED as `cuped` says.")
    heterogeneity: Heterogeneity | None = Field(
        default=None, description="Opt-in exploratory slice explorer and per-segment policy (primary metric).")
    sequential: Sequential = Field(default=Sequential(), description="Always-valid inference settings.")

    click_window: dt.timedelta = Field(default=dt.timedelta(hours=1),
                                       description="A click counts within this time after an exposure of its item; "
                                       "more than 0, at most 30 days.")
    order_window: dt.timedelta = Field(default=dt.timedelta(hours=24),
                                       description="An order counts within this time after an exposure of its item; "
                                       "more than 0, at most 90 days.")
    cuped_lookback: dt.timedelta = Field(default=dt.timedelta(days=14),
                                         description="Pre-period before a user's first exposure, for CUPED; 0 to 365 days.")
    max_exposures_per_user: int | None = Field(
        default=None, gt=0, description="Users with more exposures are excluded as bots (and counted).")
    winsorize: float | None = Field(default=None, gt=0.5, lt=1,
                                    description="Cap mean metrics at this percentile of non-zero values, pooled.")

    candidate_items: str | None = Field(default=None,
                                        description="File or table of the items the experiment recommends.")
    segments: list[str] | None = Field(
        default=None, description="User segments to generate for (default: all in the users table).")
    rollout: Rollout | None = Field(
        default=None, description="Guarded ramp of coverage for `abkit rollout`: steps, minimum days and users per step.")

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not KEY_PATTERN.match(v):
            raise ValueError("must match [a-z0-9_]+")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, v: float) -> float:
        if not 0 < v < 0.5:
            raise ValueError("must be between 0 and 0.5")
        return v

    @field_validator("primary_metric")
    @classmethod
    def _primary(cls, v: str) -> str:
        return check_metric(v)

    @field_validator("secondary_metrics")
    @classmethod
    def _secondary(cls, v: list[str] | None) -> list[str] | None:
        for i, m in enumerate(v or []):
            try:
                check_metric(m)
            except ValueError as exc:
                raise ValueError(f"[{i}]: {exc}") from None
        return v

    @field_validator("click_window", "order_window", "cuped_lookback", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> dt.timedelta:
        return parse_duration(v)

    @field_validator("click_window", "order_window")
    @classmethod
    def _window_bounds(cls, v: dt.timedelta, info: Any) -> dt.timedelta:
        low, high = WINDOW_BOUNDS[info.field_name]
        if not low < v <= high:
            raise ValueError(f"must be more than 0 and at most {high.days} days (got {_fmt_duration(v)})")
        return v

    @field_validator("cuped_lookback")
    @classmethod
    def _lookback_bounds(cls, v: dt.timedelta) -> dt.timedelta:
        if not dt.timedelta(0) <= v <= LOOKBACK_MAX:
            raise ValueError(f"must be between 0 and {LOOKBACK_MAX.days} days (got {_fmt_duration(v)})")
        return v

    @field_validator("start", "end")
    @classmethod
    def _plausible_date(cls, v: dt.date) -> dt.date:
        if not FIRST_DATE <= v <= LAST_DATE:
            raise ValueError(f"{v.isoformat()} is outside {FIRST_DATE.isoformat()} … {LAST_DATE.isoformat()}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        names = [a.name for a in self.arms]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise _KeyedError(f"arms[{i}].name", f"duplicate arm name {n!r}")
        # any positive weights (1:1, 0.333 x 3) are normalized to sum to 1
        weights = normalize_weights([a.weight for a in self.arms])
        if weights != [a.weight for a in self.arms]:
            arms = [a.model_copy(update={"weight": w}) for a, w in zip(self.arms, weights, strict=True)]
            object.__setattr__(self, "arms", arms)  # frozen model: set once, during validation
        if self.control is not None and self.control not in names:
            raise _KeyedError("control", f"{self.control!r} is not an arm")
        if self.end <= self.start:
            raise _KeyedError("end", "must be after start")
        for i, (a, b) in enumerate(self.comparisons):
            for arm in (a, b):
                if arm not in names:
                    raise _KeyedError(f"comparisons[{i}]", f"{arm!r} is not an arm")
            if a == b:
                raise _KeyedError(f"comparisons[{i}]", "compares an arm with itself")
        for i, d in enumerate(self.dimensions):
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", d):
                raise _KeyedError(f"dimensions[{i}]", f"{d!r} is not a column name")
        return self

    # --- derived values -------------------------------------------------------------------
    @property
    def control_arm(self) -> str:
        return self.control or self.arms[0].name

    @property
    def treatment_arms(self) -> list[str]:
        return [a.name for a in self.arms if a.name != self.control_arm]

    @property
    def seed(self) -> str:
        return self.hash_seed or self.key

    @property
    def weights(self) -> list[float]:
        """The arms' weights normalized to sum to 1 (as assignment and SRM use them)."""
        return [a.weight for a in self.arms]

    @property
    def arm_names(self) -> list[str]:
        return [a.name for a in self.arms]

    @property
    def secondary(self) -> list[str]:
        """Secondary metrics: as given, else the other contract metrics."""
        if self.secondary_metrics is not None:
            return [m for m in self.secondary_metrics if m != self.primary_metric]
        return [m for m in CORE_METRICS if m != self.primary_metric]

    @property
    def all_metrics(self) -> list[str]:
        """Primary, secondary and guardrail metrics, each once, at least the contract's five."""
        out = [self.primary_metric, *self.secondary]
        out += [g.metric for g in self.guardrails]
        out += list(CORE_METRICS)
        return list(dict.fromkeys(out))

    def window_utc(self) -> tuple[dt.datetime, dt.datetime]:
        """[start 00:00, end 00:00) in the spec's time zone, as naive UTC datetimes."""
        tz = ZoneInfo(self.timezone)

        def to_utc(d: dt.date) -> dt.datetime:
            local = dt.datetime.combine(d, dt.time(0), tzinfo=tz)
            return local.astimezone(dt.UTC).replace(tzinfo=None)

        return to_utc(self.start), to_utc(self.end)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(name)


def _fmt_duration(v: dt.timedelta) -> str:
    seconds = v.total_seconds()
    return f"{seconds / 86400:g}d" if abs(seconds) >= 86400 else f"{seconds:g}s"


class _KeyedError(ValueError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "function-" in str(part):  # pydantic's validator wrappers are not keys
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(err: ErrorDetails) -> str:
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err.get("type") == "missing":
        msg = "required key is missing"
    elif err.get("type") == "extra_forbidden":
        msg = "unknown key"
    return msg


def parse_spec(data: Any, source: str = "<spec>") -> Spec:
    """Validate a parsed YAML mapping; errors become one-line SpecError."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: the spec must be a YAML mapping of keys to values")
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _KeyedError):
            raise SpecError(f"{source}: {ctx_err.key}: {ctx_err.problem}") from None
        raise SpecError(f"{source}: {_loc(tuple(err['loc']))}: {_message(err)}") from None


class _SpecLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay strings so that pydantic names the bad key."""


_SpecLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                        "save the spec as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_SpecLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}: not valid YAML{where}") from None
    return parse_spec(data, str(path))
