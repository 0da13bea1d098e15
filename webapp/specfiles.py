"""The spec folder: read specs, turn the web form into spec keys, validate like `abkit validate`, save as YAML.

Saving edits the file in place with ruamel.yaml (round trip), so comments, key order and flow
style survive; keys the form does not manage (comparisons, namespace, windows...) are kept as
they are. Once an experiment runs, the keys that would invalidate it are taken from the file,
never from the form.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from abkit.errors import AbkitError
from abkit.metrics import CORE_METRICS, METRICS
from abkit.spec import KEY_PATTERN, Spec, SpecError, TextGuardrail, load_spec, parse_spec

# Keys the form edits (others in a file are left alone).
MANAGED = ("key", "name", "owner", "hypothesis", "arms", "control", "start", "end", "timezone", "primary_metric",
           "secondary_metrics", "guardrails", "text_guardrails", "dimensions", "alpha", "power", "mde",
           "planned_users_per_arm", "coverage", "cuped", "sequential")
# Keys fixed once the experiment has launched: changing them means a new experiment (a new phase).
LOCKED = ("key", "arms", "control", "hash_seed", "start", "primary_metric", "secondary_metrics", "guardrails", "coverage")
GENERATOR_TYPES = ("", "template", "neural", "external")
DEFAULTS: dict[str, Any] = {"alpha": 0.05, "power": 0.8, "coverage": 1.0, "timezone": "UTC"}


def _yaml() -> YAML:
    y = YAML()  # round-trip
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    return y


def spec_path(folder: Path, key: str) -> Path:
    if not KEY_PATTERN.match(key):
        raise AbkitError(f"key: {key!r} must match [a-z0-9_]+")
    return folder / f"{key}.yaml"


@dataclass
class SpecFile:
    path: Path
    spec: Spec | None
    error: str | None = None


def list_specs(folder: Path) -> dict[str, SpecFile]:
    """Specs of the folder by key (a broken file is listed under its file stem with its error)."""
    out: dict[str, SpecFile] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.y*ml")):
        try:
            s = load_spec(path)
            out.setdefault(s.key, SpecFile(path, s))
        except SpecError as exc:
            out.setdefault(path.stem, SpecFile(path, None, str(exc)))
    return out


def find_spec(folder: Path, key: str) -> SpecFile | None:
    return list_specs(folder).get(key)


def load_document(path: Path | None) -> CommentedMap:
    if path is None or not path.exists():
        return CommentedMap()
    doc = _yaml().load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, CommentedMap):
        raise AbkitError(f"{path}: the spec must be a YAML mapping of keys to values")
    return doc


def plain(value: Any) -> Any:
    """ruamel's commented containers and scalars as plain Python values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for t in (int, float, str):
        if isinstance(value, t):
            return t(value)
    return value


# --- form values -> spec keys --------------------------------------------------------------------
def _number(text: str, kind: type = float) -> Any:
    """A number when the text is one, else the text itself (so validation names the key)."""
    try:
        return kind(text)
    except ValueError:
        try:
            f = float(text)
            return int(f) if kind is int and f.is_integer() else text
        except ValueError:
            return text


def _date(text: str) -> Any:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


@dataclass
class FormData:
    """The form's keys as spec values, plus form-only state (rows to add)."""

    values: dict[str, Any] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)  # managed keys the form left empty


def _rows(form: Mapping[str, str], prefix: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    idx = sorted({int(m.group(1)) for k in form if (m := re.match(rf"^{prefix}-(\d+)-", k))})
    return [{f: str(form.get(f"{prefix}-{i}-{f}", "")).strip() for f in fields} for i in idx]


def form_to_values(form: Mapping[str, Any], secondary_options: list[str]) -> FormData:
    """Parse the posted form (field names as the template writes them) into spec values."""
    out = FormData()

    def put(key: str, value: Any) -> None:
        if value in ("", None, []):
            out.removed.add(key)
        else:
            out.values[key] = value

    for key in ("key", "name", "owner", "hypothesis", "timezone", "primary_metric", "control"):
        put(key, str(form.get(key, "")).strip())
    for key in ("start", "end"):
        put(key, _date(str(form.get(key, "")).strip()))
    for key in ("alpha", "power", "mde", "coverage"):
        text = str(form.get(key, "")).strip()
        put(key, _number(text) if text else "")
    text = str(form.get("planned_users_per_arm", "")).strip()
    put("planned_users_per_arm", _number(text, int) if text else "")
    arms = []
    for row in _rows(form, "arms", ("name", "weight", "generator", "temperature", "personalized", "remove")):
        if row["remove"] or not (row["name"] or row["weight"]):
            continue
        arm: dict[str, Any] = {"name": row["name"], "weight": _number(row["weight"]) if row["weight"] else ""}
        if row["generator"]:
            gen: dict[str, Any] = {"type": row["generator"]}
            if row["generator"] == "neural":
                gen["personalized"] = bool(row["personalized"])
                if row["temperature"]:
                    gen["temperature"] = _number(row["temperature"])
            arm["generator"] = gen
        arms.append(arm)
    put("arms", arms)
    chosen = [m for m in secondary_options if form.get(f"secondary-{m}")]
    out.values["secondary_metrics"] = chosen
    guardrails = [{"metric": r["metric"], "margin": _number(r["margin"]) if r["margin"] else 0.02}
                  for r in _rows(form, "guardrails", ("metric", "margin")) if r["metric"]]
    put("guardrails", guardrails)
    lines = [ln.strip() for ln in str(form.get("text_guardrails", "")).splitlines() if ln.strip()]
    put("text_guardrails", lines)
    dims = [d.strip() for d in re.split(r"[,，\s]+", str(form.get("dimensions", ""))) if d.strip()]
    put("dimensions", dims)
    out.values["cuped"] = bool(form.get("cuped"))
    out.values["sequential"] = {"enabled": bool(form.get("sequential"))}
    return out


# --- merging into the YAML document --------------------------------------------------------------
def _flow_like(seq: CommentedSeq | None, value: dict[str, Any]) -> CommentedMap:
    m = CommentedMap(value)
    if seq and isinstance(seq[0], CommentedMap) and seq[0].fa.flow_style():
        m.fa.set_flow_style()
    return m


def _merge_map(target: CommentedMap, new: Mapping[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(target.get(k), CommentedMap):
            _merge_map(target[k], v)
        elif isinstance(v, Mapping):
            target[k] = _flow_like(None, dict(v)) if not isinstance(v, CommentedMap) else v
        elif target.get(k) != v:
            target[k] = v


def _merge_arms(doc: CommentedMap, arms: list[dict[str, Any]]) -> None:
    old = doc.get("arms")
    if not isinstance(old, CommentedSeq):
        doc["arms"] = CommentedSeq([_flow_like(None, a) for a in arms])
        return
    for i, arm in enumerate(arms):
        if i < len(old) and isinstance(old[i], CommentedMap):
            target = old[i]
            gen = arm.pop("generator", None)
            _merge_map(target, arm)
            if gen is None:
                target.pop("generator", None)
            elif isinstance(target.get("generator"), CommentedMap) and target["generator"].get("type") == gen["type"]:
                _merge_map(target["generator"], gen)
            else:
                g = CommentedMap(gen)
                g.fa.set_flow_style()
                target["generator"] = g
        else:
            old.append(_flow_like(old, arm))
    del old[len(arms):]


def _text_rule(g: Any) -> str:
    if isinstance(g, str):
        return " ".join(g.split())
    if isinstance(g, Mapping):
        return f"{g.get('metric')} {g.get('op')} {g.get('value')}"
    return str(g)


def apply_form(doc: CommentedMap, data: FormData, *, locked: bool) -> CommentedMap:
    """Write the form's values into the document (in place); locked keys keep the file's values."""
    values = dict(data.values)
    skip = set(LOCKED) if locked else set()
    if "arms" in values and "arms" not in skip:
        _merge_arms(doc, [dict(a) for a in values.pop("arms")])
    values.pop("arms", None)
    sec = values.pop("secondary_metrics", None)
    if "secondary_metrics" not in skip and sec is not None:
        if "secondary_metrics" in doc or sec != _default_secondary(values.get("primary_metric") or doc.get("primary_metric")):
            doc["secondary_metrics"] = sec
    tg = values.pop("text_guardrails", None)
    if tg is not None and [_text_rule(g) for g in doc.get("text_guardrails") or []] != [_text_rule(g) for g in tg]:
        doc["text_guardrails"] = tg
    for key in ("cuped",):
        if key in values and doc.get(key, True) != values[key]:
            doc[key] = values[key]
        values.pop(key, None)
    seq = values.pop("sequential", None)
    if seq is not None and (doc.get("sequential") or {}).get("enabled", False) != seq["enabled"]:
        if isinstance(doc.get("sequential"), CommentedMap):
            doc["sequential"]["enabled"] = seq["enabled"]
        else:
            doc["sequential"] = _flow_like(None, seq)
    for key, value in values.items():
        if key in skip and key in doc:
            continue
        if key not in doc and DEFAULTS.get(key, object()) == value:
            continue  # a default the file never spelled out stays implicit
        if key == "guardrails":
            old = doc.get("guardrails")
            if plain(old) != value:
                doc[key] = CommentedSeq([_flow_like(old if isinstance(old, CommentedSeq) else None, g) for g in value])
        elif doc.get(key) != value:
            doc[key] = value
    for key in data.removed:
        if key not in skip and key in MANAGED:
            doc.pop(key, None)
    return doc


def _default_secondary(primary: Any) -> list[str]:
    return [m for m in CORE_METRICS if m != primary]


def validate_document(doc: CommentedMap, source: str) -> tuple[Spec | None, str | None, str | None]:
    """(spec, None, None) or (None, key, problem) — the same message `abkit validate` prints."""
    try:
        return parse_spec(plain(doc), source), None, None
    except SpecError as exc:
        text = str(exc)
        rest = text[len(source) + 2:] if text.startswith(source + ": ") else text
        key, _, problem = rest.partition(": ")
        return None, key, problem or rest


def field_for(error_key: str, fields: set[str]) -> str:
    """The form field an error key such as ``arms[1].generator.temperature`` belongs to."""
    parts = [p for p in re.split(r"[.\[\]]+", error_key) if p]
    while parts:
        for candidate in ("-".join(parts), "-".join(parts[:-1] + ["generator"]) if parts[-1] == "type" else ""):
            if candidate in fields:
                return candidate
        if len(parts) >= 2 and parts[-2] == "generator":  # arms-1-generator-temperature -> arms-1-temperature
            parts = parts[:-2] + parts[-1:]
            continue
        parts = parts[:-1]
    return "_top"


def dump(doc: CommentedMap) -> str:
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


def save(path: Path, doc: CommentedMap) -> None:
    """Write atomically: a full disk or a crash leaves the old file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump(doc), encoding="utf-8")
    tmp.replace(path)


# --- spec -> form (for rendering) ---------------------------------------------------------------
def form_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values for the template from the (possibly invalid) document."""
    d = plain(doc)
    arms = []
    for a in d.get("arms") or []:
        if not isinstance(a, Mapping):
            continue
        generator = a.get("generator")
        gen: Mapping[str, Any] = generator if isinstance(generator, Mapping) else {}
        arms.append({"name": a.get("name", ""), "weight": a.get("weight", ""), "generator": gen.get("type", ""),
                     "temperature": gen.get("temperature", ""), "personalized": gen.get("personalized", True)})
    primary = d.get("primary_metric") or "ctr"
    secondary = d.get("secondary_metrics")
    if secondary is None:
        secondary = _default_secondary(primary)
    text_rules = [_text_rule(g) for g in d.get("text_guardrails") or []]
    return {
        **{k: ("" if d.get(k) is None else d.get(k)) for k in ("key", "name", "owner", "hypothesis", "control",
                                                               "mde", "planned_users_per_arm")},
        "start": str(d.get("start") or ""), "end": str(d.get("end") or ""),
        "timezone": d.get("timezone") or "UTC", "primary_metric": primary, "secondary_metrics": secondary,
        "alpha": d.get("alpha", 0.05), "power": d.get("power", 0.8), "coverage": d.get("coverage", 1.0),
        "arms": arms, "guardrails": [g for g in d.get("guardrails") or [] if isinstance(g, Mapping)],
        "text_guardrails": "\n".join(text_rules), "dimensions": ", ".join(str(x) for x in d.get("dimensions") or []),
        "cuped": d.get("cuped", True), "sequential": bool((d.get("sequential") or {}).get("enabled", False)),
        "hash_seed": d.get("hash_seed") or d.get("key") or "",
    }


def new_document(today: dt.date) -> CommentedMap:
    """A starting point for a new experiment: two template/neural arms, two weeks from tomorrow."""
    start = today + dt.timedelta(days=1)
    doc = CommentedMap()
    doc["key"] = ""
    doc["arms"] = CommentedSeq([_flow_like(None, {"name": "control", "weight": 0.5, "generator": {"type": "template"}}),
                                _flow_like(None, {"name": "treatment", "weight": 0.5,
                                                  "generator": {"type": "neural"}})])
    doc["start"] = start
    doc["end"] = start + dt.timedelta(days=14)
    doc["primary_metric"] = "ctr"
    doc["mde"] = 0.05
    return doc


METRIC_KEYS = list(METRICS)
TEXT_RULE_EXAMPLE = TextGuardrail.model_validate("unfaithful_rate <= 0.02")
