"""A team's text-lexicon extension file (YAML): synonym groups, value sets, key roles, compliance terms.

Default: none. Loaded by ``abkit lint-reasons --text-lexicon FILE`` and by callers that pass
``extension=`` to the checkers (docs/text-evaluation.md, Extension file). Every key is optional::

    synonyms:            # each group: spellings of one value
      - [涤纶, 聚酯纤维]
    values:              # extra values per attribute key (all categories)
      材质: [钛合金, 搪瓷]
    categories:          # value sets that hold for one category only
      厨具: {材质: [搪瓷, 铸铁]}
    multi_valued: [卖点]  # keys whose items list several values: another value is not a contradiction
    style_keys: [风格]    # keys whose values are style claims (subjective when the item lacks the key)
    subjective: [松弛感]  # style / opinion words: never counted as unsupported
    compliance:
      allow: [至尊宝]                      # compounds that are never violations
      banned: {level: [天花板]}             # extra banned terms per compliance category
      category_rules:                      # terms banned for item categories containing a keyword
        health: {applies_to: [食品, 保健], terms: [抗疲劳]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from abkit.errors import AbkitError
from abkit.text.lexicon import LexiconConfig

_KEYS = {"synonyms", "values", "categories", "multi_valued", "style_keys", "subjective", "compliance"}
_COMPLIANCE_KEYS = {"allow", "banned", "category_rules"}


@dataclass(frozen=True)
class CategoryRule:
    applies_to: tuple[str, ...]  # keywords matched against the item's category
    terms: tuple[str, ...]


@dataclass
class TextExtension:
    lexicon: LexiconConfig = field(default_factory=LexiconConfig)
    allow: list[str] = field(default_factory=list)
    banned: dict[str, list[str]] = field(default_factory=dict)
    category_rules: dict[str, CategoryRule] = field(default_factory=dict)


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise AbkitError(f"text lexicon: {where} must be a list of strings")
    return [str(v) for v in value]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AbkitError(f"text lexicon: {where} must be a mapping")
    return value


def parse_extension(data: Any) -> TextExtension:
    """A TextExtension from the parsed YAML document (None or {} -> empty)."""
    if data is None:
        return TextExtension()
    data = _mapping(data, "the document")
    unknown = set(data) - _KEYS
    if unknown:
        raise AbkitError(f"text lexicon: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    synonyms = [frozenset(_strings(g, "synonyms[]")) for g in data.get("synonyms", []) or []]
    values = {str(k): set(_strings(v, f"values.{k}")) for k, v in _mapping(data.get("values", {}) or {}, "values").items()}
    cats = {str(c): {str(k): set(_strings(v, f"categories.{c}.{k}")) for k, v in _mapping(kv, f"categories.{c}").items()}
            for c, kv in _mapping(data.get("categories", {}) or {}, "categories").items()}
    from abkit.text.normalize import normalize

    lex = LexiconConfig(
        synonyms=[frozenset(normalize(w) for w in g) for g in synonyms],
        multi_valued_keys=set(_strings(data.get("multi_valued", []) or [], "multi_valued")),
        style_keys=set(_strings(data.get("style_keys", []) or [], "style_keys")),
        subjective=set(_strings(data.get("subjective", []) or [], "subjective")),
        values=values, category_values=cats,
    )
    comp = _mapping(data.get("compliance", {}) or {}, "compliance")
    unknown = set(comp) - _COMPLIANCE_KEYS
    if unknown:
        raise AbkitError(f"text lexicon: unknown compliance key(s) {sorted(unknown)}; allowed: {sorted(_COMPLIANCE_KEYS)}")
    rules = {}
    for name, rule in _mapping(comp.get("category_rules", {}) or {}, "compliance.category_rules").items():
        rule = _mapping(rule, f"compliance.category_rules.{name}")
        rules[str(name)] = CategoryRule(tuple(_strings(rule.get("applies_to", []), f"category_rules.{name}.applies_to")),
                                        tuple(_strings(rule.get("terms", []), f"category_rules.{name}.terms")))
    banned = {str(k): _strings(v, f"compliance.banned.{k}")
              for k, v in _mapping(comp.get("banned", {}) or {}, "compliance.banned").items()}
    return TextExtension(lex, _strings(comp.get("allow", []) or [], "compliance.allow"), banned, rules)


def load_extension(path: str | Path | None) -> TextExtension | None:
    """Read an extension file; None -> None. Errors name the file and the key."""
    if path is None:
        return None
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AbkitError(f"text lexicon file not found: {p}") from None
    except yaml.YAMLError as exc:
        raise AbkitError(f"text lexicon {p} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return parse_extension(data)
    except AbkitError as exc:
        raise AbkitError(f"{p}: {exc}") from None
