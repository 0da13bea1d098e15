"""The simulator's own reading of a shown text: what it says about the item, and for whom.

Deliberately independent of `abkit/text/` (the text metrics this simulator helps to
validate): one Aho-Corasick pass over the world's vocabulary (abkit.world.vocab), checked against
the item's own facts. Per (text, item) it yields

- ``mentions``: which attributes the text states *truly* (the item's own value appears);
- ``unfaithful``: the text claims a factual value the item does not have (another material,
  an invented spec, a promotion or discount the item lacks, a wrong price);
- ``promo_real``: the text mentions a promotion or discount the item really has;
- ``hooks``: which personas' hook words appear; ``banned``: an absolute term (广告法);
- ``n_chars``: length without whitespace.

``behaviour_effects`` turns these into log-multipliers of click and order probabilities per
(text, persona) — the knobs that make the arms' true effects (docs/text.md, Simulated effects: a few % CTR).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ahocorasick
import numpy as np

from abkit.world import vocab

ATTRS: list[str] = list(vocab.ATTRIBUTE_KINDS)  # includes 价格 and 促销
ATTR_INDEX = {a: i for i, a in enumerate(ATTRS)}
PERSONAS: list[str] = list(vocab.SEGMENTS)
PERSONA_INDEX = {p: i for i, p in enumerate(PERSONAS)}
PRICE_SENSITIVE = np.array([max(vocab.persona_weight(p, vocab.PRICE_ATTRIBUTE),
                                vocab.persona_weight(p, vocab.PROMO_ATTRIBUTE)) >= 0.7 for p in PERSONAS])



def _ambiguous_values() -> frozenset[str]:
    """Values that also occur inside persona hooks/scenes (e.g. 通勤): mentions, never claims."""
    phrases = [x for p in vocab.PERSONAS.values() for k in ("hooks", "scenes", "hook_words") for x in p.get(k, [])]
    values = set().union(*vocab.value_lexicon().values())
    return frozenset(v for v in values if any(v in ph for ph in phrases))


AMBIGUOUS = _ambiguous_values()
_DISCOUNT_RE = re.compile(r"(?<![\d.])(\d(?:\.\d)?)折")
_PRICE_RE = re.compile(r"(?:[¥￥](\d+(?:\.\d+)?))|(?:(\d+(?:\.\d+)?)元)")


@dataclass(frozen=True)
class Effects:
    """Sizes of the behaviour model's text effects (log-multipliers; docs/text.md, Simulated effects)."""

    match: float = 0.08  # CTR, full persona-aspect match (persona's top aspects stated)
    hook: float = 0.03  # CTR, a hook word of the viewer's persona
    promo_ctr: float = 0.06  # CTR, a real promotion shown to a price-sensitive viewer
    promo_cvr: float = 0.08  # orders per click, same condition
    unfaithful_ctr: float = 0.04  # an unfaithful claim lures clicks ...
    unfaithful_cvr: float = -0.25  # ... and disappoints after the click
    unfaithful_refund: float = 3.0  # refund probability × (1 + this)
    length_opt: float = 22.0  # characters with the best CTR
    length_scale: float = 18.0
    length_penalty: float = 0.05  # CTR log-penalty at one scale away from the optimum
    banned: float = 0.0  # a banned term is a compliance risk, not a behaviour


@lru_cache(maxsize=1)
def _automaton() -> ahocorasick.Automaton:
    """Every surface the world knows: attribute values, promotions, hooks, banned terms."""
    entries: dict[str, list[tuple[str, str]]] = {}

    def add(word: str, tag: tuple[str, str]) -> None:
        if word:
            entries.setdefault(word, []).append(tag)

    for attr, values in vocab.value_lexicon().items():
        for v in values:
            add(v, ("value", attr))
    for p in PERSONAS:
        for w in vocab.PERSONAS[p]["hook_words"]:
            add(w, ("hook", p))
    for t in vocab.ABSOLUTE_TERMS:
        add(t, ("banned", t))
    for t in vocab.ALLOWED_COMPOUNDS:
        add(t, ("allowed", t))
    auto = ahocorasick.Automaton()
    for word, tags in entries.items():
        auto.add_word(word, (word, tuple(tags)))
    auto.make_automaton()
    return auto


def _item_facts(attributes: Any) -> dict[str, set[str]]:
    if isinstance(attributes, str):
        try:
            attributes = json.loads(attributes) if attributes else {}
        except ValueError:
            attributes = {}
    facts: dict[str, set[str]] = {}
    for k, v in (attributes or {}).items():
        vals = v if isinstance(v, list | tuple) else [v]
        facts[str(k)] = {str(x) for x in vals if x is not None}
    return facts


def _price_ok(value: float, price: float, discount: float, promo_numbers: set[float]) -> bool:
    eff = price * (1.0 - discount)
    return any(abs(value - p) <= max(0.06, 0.005 * p) for p in (price, eff)) or value in promo_numbers


def text_features(texts: Sequence[str], attributes: Sequence[Any], prices: Sequence[float],
                  discounts: Sequence[float]) -> dict[str, np.ndarray]:
    """Features of each text about its item (aligned sequences, one entry per text)."""
    n = len(texts)
    mentions = np.zeros((n, len(ATTRS)), dtype=bool)
    hooks = np.zeros((n, len(PERSONAS)), dtype=bool)
    unfaithful = np.zeros(n, dtype=bool)
    promo_real = np.zeros(n, dtype=bool)
    promo_claim = np.zeros(n, dtype=bool)
    banned = np.zeros(n, dtype=bool)
    n_chars = np.zeros(n, dtype=np.int32)
    auto = _automaton()
    promo_attr, price_attr = vocab.PROMO_ATTRIBUTE, vocab.PRICE_ATTRIBUTE
    for i, (text, attrs, price, discount) in enumerate(zip(texts, attributes, prices, discounts, strict=True)):
        text = "".join(str(text or "").split())
        n_chars[i] = len(text)
        facts = _item_facts(attrs)
        own_values = set().union(*facts.values()) if facts else set()
        discount = float(discount or 0.0)
        price = float(price or 0.0)
        promo_numbers: set[float] = set()
        for pv in facts.get(promo_attr, ()):
            promo_numbers.update(float(x) for x in re.findall(r"\d+(?:\.\d+)?", pv))
        for _end, (word, tags) in auto.iter_long(text):
            for tag, what in tags:
                if tag == "hook":
                    hooks[i, PERSONA_INDEX[what]] = True
                elif tag == "banned":
                    banned[i] = True
                elif tag == "value":
                    if word in facts.get(what, ()):
                        mentions[i, ATTR_INDEX[what]] = True
                        if what == promo_attr:
                            promo_real[i] = True
                    elif what == promo_attr:
                        promo_claim[i] = True
                        if word not in own_values:
                            unfaithful[i] = True
                    elif word not in own_values and word not in AMBIGUOUS:
                        unfaithful[i] = True
        for m in _DISCOUNT_RE.finditer(text):
            promo_claim[i] = True
            if discount > 0 and m.group(0) == vocab.discount_text(discount):
                promo_real[i] = True
                mentions[i, ATTR_INDEX[promo_attr]] = True
            elif m.group(0) not in own_values:
                unfaithful[i] = True
        for m in _PRICE_RE.finditer(text):
            value = float(m.group(1) or m.group(2))
            if _price_ok(value, price, discount, promo_numbers):
                mentions[i, ATTR_INDEX[price_attr]] = True
            else:
                unfaithful[i] = True
        promo_claim[i] |= promo_real[i]
    return {"mentions": mentions, "hooks": hooks, "unfaithful": unfaithful, "promo_real": promo_real,
            "promo_claim": promo_claim, "banned": banned, "n_chars": n_chars}


def persona_weights() -> np.ndarray:
    """(personas + 1, attributes) aspect weights, each row scaled so its top three sum to 1.

    The last row is the 'unknown segment' viewer: no aspect preferences.
    """
    w = np.zeros((len(PERSONAS) + 1, len(ATTRS)))
    for p, name in enumerate(PERSONAS):
        for attr, weight in vocab.PERSONAS[name]["aspects"].items():
            if attr in ATTR_INDEX:
                w[p, ATTR_INDEX[attr]] = weight
        top3 = np.sort(w[p])[-3:].sum()
        if top3 > 0:
            w[p] /= top3
    return w


def behaviour_effects(features: dict[str, np.ndarray], effects: Effects = Effects()) -> dict[str, np.ndarray]:
    """Log-multipliers per (text, viewer persona), persona axis = PERSONAS + [unknown].

    Returns ``ctr`` and ``cvr`` of shape (n_texts, n_personas + 1) and ``refund`` (n_texts,),
    a multiplier of the refund probability.
    """
    w = persona_weights()
    match = np.minimum(features["mentions"].astype(float) @ w.T, 1.0)  # (n, P+1)
    hooks = np.concatenate([features["hooks"], np.zeros((len(match), 1), dtype=bool)], axis=1)
    ps = np.append(PRICE_SENSITIVE, False)[None, :]
    promo = features["promo_real"][:, None] & ps
    unf = features["unfaithful"].astype(float)[:, None]
    z = (features["n_chars"].astype(float) - effects.length_opt) / effects.length_scale
    length = -effects.length_penalty * np.minimum(z * z, 3.0)
    ctr = (effects.match * match + effects.hook * hooks + effects.promo_ctr * promo
           + effects.unfaithful_ctr * unf + length[:, None]
           + effects.banned * features["banned"].astype(float)[:, None])
    cvr = effects.promo_cvr * promo + effects.unfaithful_cvr * unf
    refund = 1.0 + effects.unfaithful_refund * features["unfaithful"].astype(float)
    return {"ctr": ctr, "cvr": cvr + np.zeros_like(ctr), "refund": refund}
