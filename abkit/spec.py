"""Experiment specs (docs/interface.md, Spec): pydantic models, loaded from YAML with one-line errors.

    spec = load_spec("experiments/reason_gen_v1.yaml")   # raises SpecError("file: key: problem")
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from abkit.errors import AbkitError
from abkit.metrics import CORE_METRICS, METRICS

KEY_PATTERN = re.compile(r"^[a-z0-9_]+$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hour|hours|d|day|days)\s*$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hours": 3600,
                 "d": 86400, "day": 86400, "days": 86400}
TEXT_METRICS = ("distinct_1", "distinct_2", "distinct_3", "distinct_4", "distinct_2_at_n", "self_bleu",
                "ad_law_violation_rate", "unfaithful_rate", "unsupported_rate", "repetition_rate",
                "unique_reason_ratio", "personalization", "attribute_coverage", "mean_length")


class SpecError(AbkitError, ValueError):
    """A spec problem, as one line: ``file: key: problem``."""


def parse_duration(value: Any) -> dt.timedelta:
    """Accept ``1h``, ``24h``, ``14d``, ``30min``, a number of seconds, or a timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=float(value))
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return dt.timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    raise ValueError(f"{value!r} is not a duration (use e.g. 30min, 1h, 24h, 14d)")


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

    type: Literal["template", "neural", "external"]
    model: str | None = None  # path to a trained neural model; None = the shipped one
    personalized: bool = True  # neural: condition on the user segment; template ignores it
    temperature: float = Field(0.8, gt=0, le=5)
    top_k: int = Field(0, ge=0)  # 0 = off
    top_p: float = Field(0.95, gt=0, le=1)
    repetition_penalty: float = Field(1.2, ge=1.0, le=5.0)
    num_candidates: int = Field(4, ge=1, le=64)
    max_new_tokens: int = Field(48, ge=4, le=256)
    length: Literal["S", "M", "L"] = "M"
    constrained: bool = True  # mask banned absolute terms at decode time
    seed: int = 0
    # Simulation only: share of texts whose claims are corrupted (e.g. an invented discount).
    inject_unfaithful_rate: float = Field(0.0, ge=0, le=1)


class Arm(_Model):
    name: str = Field(min_length=1)
    weight: float
    generator: GeneratorSettings | None = None
    description: str | None = None

    @field_validator("weight")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not v > 0:
            raise ValueError("must be > 0")
        return v


class Guardrail(_Model):
    """A behavioural guardrail: one-sided non-inferiority of the metric's relative lift."""

    metric: str
    margin: float = Field(0.02, gt=0, lt=1)  # relative: lift may not be worse than -margin

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_metric(v)


class TextGuardrail(_Model):
    """A guardrail on the texts an arm showed, e.g. ``unfaithful_rate <= 0.01``."""

    metric: str
    op: Literal["<=", "<", ">=", ">", "=="]
    value: float | Literal["control"]
    tolerance: float = 0.0  # with value "control": allowed shortfall against the control arm

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


class Sequential(_Model):
    enabled: bool = False
    tuning_n: int = Field(5000, gt=0)  # N* of the Gaussian-mixture confidence sequence


class Namespace(_Model):
    """GrowthBook namespace: the experiment only enrols users whose namespace hash is in range."""

    name: str = Field(min_length=1)
    range: tuple[float, float]

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

    steps: list[float] = Field(min_length=1)
    min_days: float = Field(1.0, gt=0)
    min_users_per_arm: int = Field(100, ge=0)

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
    key: str
    name: str | None = None
    hypothesis: str | None = None
    owner: str | None = None
    description: str | None = None

    arms: list[Arm] = Field(min_length=2)
    control: str | None = None
    coverage: float = Field(1.0, gt=0, le=1)
    hash_seed: str | None = None
    hash_version: Literal[1, 2] = 2
    namespace: Namespace | None = None
    holdout: float = Field(0.0, ge=0, lt=1)  # share of users no experiment touches (per seed)

    timezone: str = "UTC"
    start: dt.date
    end: dt.date

    primary_metric: str
    secondary_metrics: list[str] | None = None
    guardrails: list[Guardrail] = []
    text_guardrails: list[TextGuardrail] = []
    comparisons: list[tuple[str, str]] = []  # (treatment, baseline) pairs between arms
    dimensions: list[str] = []

    alpha: float = 0.05
    power: float = Field(0.8, gt=0, lt=1)
    mde: float | None = Field(None, gt=0)  # relative minimum detectable effect of the primary metric
    planned_users_per_arm: int | None = Field(None, gt=0)
    correction: Literal["holm", "bh", "none"] = "holm"
    cuped: bool = True
    sequential: Sequential = Sequential()

    click_window: dt.timedelta = dt.timedelta(hours=1)
    order_window: dt.timedelta = dt.timedelta(hours=24)
    cuped_lookback: dt.timedelta = dt.timedelta(days=14)
    max_exposures_per_user: int | None = Field(None, gt=0)
    winsorize: float | None = Field(None, gt=0.5, lt=1)  # percentile of non-zero values, pooled

    candidate_items: str | None = None  # file or table of the items the experiment recommends
    segments: list[str] | None = None  # user segments to generate for (default: all in `users`)
    rollout: Rollout | None = None  # guarded ramp of coverage (abkit rollout)

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

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        names = [a.name for a in self.arms]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise _KeyedError(f"arms[{i}].name", f"duplicate arm name {n!r}")
        total = sum(a.weight for a in self.arms)
        if abs(total - 1.0) > 1e-6:
            raise _KeyedError("arms", f"weights must sum to 1 (they sum to {total:g})")
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


def _message(err: dict[str, Any]) -> str:
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


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}: not valid YAML{where}") from None
    return parse_spec(data, str(path))
