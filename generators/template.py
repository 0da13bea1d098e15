"""The template generator: the usual control arm.

Deterministic, fact-grounded and deliberately plain: it ignores the user segment and always
uses the first (plain) paraphrase of each clause of the reference grammar
(generators/corpus.py), with attributes in the category's fixed order. Clause templates are
precompiled into (prefix, suffix) pairs.

Two entry points write the same reasons: `generate_columns` builds a whole batch as Arrow columns
(the runner's path: the clause loop runs over the ≤ 12 attribute positions, each step vectorized over
every row) and `write` is the per-row reference (the serving fallback, and rows of a category or
sub-category the vocabulary does not know, whose attribute order comes from the item itself).
`generate` (the Generator protocol) is `generate_columns` turned into Reason objects.

`settings["inject_unfaithful_rate"]` (simulation only) makes that share of reasons claim a
promotion the item does not have; such reasons say so in features["corrupted"].
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from abkit.world import vocab
from generators.base import (
    Reason,
    ReasonRequest,
    RequestColumns,
    paused_gc,
    reason_ids,
    reason_keys,
    request_seed,
    stable_hash,
)
from generators.columns import duck_column, join, json_quote, lengths, sha256_int
from generators.corpus import CTA_TEMPLATES, FEATURE_TEMPLATES, PROMO_TEMPLATES

_SHARED_ORDER = ["评分", "月销", "售后", "发货", "好评率"]


def _split(template: str) -> tuple[str, str]:
    prefix, _, suffix = template.partition("{v}")
    return prefix, suffix


_FEATURE = {attr: _split(tpls[0]) for attr, tpls in FEATURE_TEMPLATES.items()}
_PROMO = _split(PROMO_TEMPLATES[0])
_PRICE = _split(FEATURE_TEMPLATES[vocab.PRICE_ATTRIBUTE][0])
_CTA = CTA_TEMPLATES[0]
_PROMO_VALUES = sorted(vocab.render_promos())
_BUCKETS = vocab.LENGTH_BUCKETS
_MAX_FEATS = {"S": 2, "M": 2, "L": 4}


def _orders() -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(category, sub-category) -> [(attribute, prefix, suffix)] in the fixed plain order."""
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for cat, spec in vocab.CATEGORIES.items():
        names = {"": list(spec["attributes"])}
        names.update({sub: list(vocab.subcategory_attributes(cat, sub)) for sub in spec["subcategories"]})
        for sub, attrs in names.items():
            out[(cat, sub)] = [(a, *_FEATURE[a]) for a in attrs + _SHARED_ORDER if a in _FEATURE]
    return out


_ORDER = _orders()
_SUBS = {cat: sorted(spec["subcategories"], key=len, reverse=True) for cat, spec in vocab.CATEGORIES.items()}


def subcategory_of(category: str, title: str) -> str:
    """The sub-category named in the title (longest match), or '' when none is."""
    for sub in _SUBS.get(category, ()):
        if sub in title:
            return sub
    return ""


_ORDER_KEYS = list(_ORDER)
_ORDER_INDEX = {key: k for k, key in enumerate(_ORDER_KEYS)}
_ATTRS = sorted({a for order in _ORDER.values() for a, _, _ in order})
_POSITIONS = max(len(order) for order in _ORDER.values())
_NONE = len(_ATTRS)  # attribute slot that is never present
_MOST = max(max(_MAX_FEATS.values()), 2)  # features a reason can carry (2 for a length outside _MAX_FEATS)
# (order, position) -> attribute slot, _NONE past the end of that order
_SLOTS = np.full((len(_ORDER_KEYS) + 1, _POSITIONS), _NONE, dtype=np.int64)
for _k, _key in enumerate(_ORDER_KEYS):
    for _j, (_a, _, _) in enumerate(_ORDER[_key]):
        _SLOTS[_k, _j] = _ATTRS.index(_a)
_PRE = pa.array([_FEATURE[a][0] for a in _ATTRS] + [""], pa.string())
_SUF = pa.array([_FEATURE[a][1] for a in _ATTRS] + [""], pa.string())
# mentions are built from JSON bodies: json.dumps([name, value]) without its brackets
_PROMO_MENTION = json.dumps(vocab.PROMO_ATTRIBUTE, ensure_ascii=False) + ","
_PRICE_MENTION = json.dumps(vocab.PRICE_ATTRIBUTE, ensure_ascii=False) + ","
_SUBJECTS = ["这款" + (sub or cat) for cat, sub in _ORDER_KEYS]
_SUBJECTS_SEP = pa.array(["，" + x for x in _SUBJECTS] + [""], pa.string())
_PRE_SEP = pa.array(["，" + _FEATURE[a][0] for a in _ATTRS] + [""], pa.string())
_CTA_SEP = pa.array(["，" + _CTA], pa.string())
_AFFIX_LEN = np.array([len(_FEATURE[a][0]) + len(_FEATURE[a][1]) for a in _ATTRS] + [0], dtype=np.int64)
_SUBJECT_LEN = np.array([len(x) for x in _SUBJECTS] + [0], dtype=np.int64)


_CATEGORY_NAMES = list(_SUBS)


def _orders_sql() -> tuple[str, list[Any]]:
    """One DuckDB CASE over (category index in _CATEGORY_NAMES, title) giving the index in _ORDER_KEYS of
    (category, subcategory_of(category, title)); the sub-category names are bound as parameters."""
    unknown = len(_ORDER_KEYS)
    cases, params = [], []
    for k, cat in enumerate(_CATEGORY_NAMES):
        subs = _SUBS[cat]  # longest first, as subcategory_of
        cases.append(f"WHEN {k} THEN CASE " + " ".join("WHEN contains(title, ?) THEN ?" for _ in subs) + " ELSE ? END")
        for sub in subs:
            params += [sub, _ORDER_INDEX.get((cat, sub), unknown)]
        params.append(_ORDER_INDEX.get((cat, ""), unknown))
    return f"SELECT CASE category {' '.join(cases)} ELSE {unknown} END FROM _abkit_blobs", params


_ORDERS_SQL = _orders_sql()


def _orders_of(category: pa.Array, title: pa.Array) -> np.ndarray:
    """Per item: the index in _ORDER_KEYS of (category, subcategory_of(category, title)), or
    len(_ORDER_KEYS) when the vocabulary has no order for it (those rows are written per row)."""
    if not len(category):
        return np.zeros(0, dtype=np.int64)
    coded = pc.dictionary_encode(category)
    known = np.array([_CATEGORY_NAMES.index(c) if c in _SUBS else -1 for c in coded.dictionary.to_pylist()]
                     + [-1], dtype=np.int64)
    index = known[pc.fill_null(coded.indices, -1).to_numpy(zero_copy_only=False)]
    sql, params = _ORDERS_SQL
    order = duck_column(pa.table({"category": index, "title": title}), sql, params)
    return pc.fill_null(order, len(_ORDER_KEYS)).to_numpy(zero_copy_only=False).astype(np.int64)


def _by_value(values: pa.Array, fn: Any) -> pa.Array:
    """fn applied once per distinct value (discount and price surfaces), then spread back to the rows."""
    uniq, inverse = np.unique(values.to_numpy(zero_copy_only=False), return_inverse=True)
    return pa.array([fn(float(v)) for v in uniq], pa.string()).take(pa.array(inverse.ravel()))


def _fake_promos(ids: pa.Array, own: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows that carry an injected claim, the claimed promotion as an index in _PROMO_VALUES), given each row's
    own promotion as such an index (-1: none of them): request_seed(id) / 2**32 < rate, and the seed picks among
    the promotion surfaces other than the item's own (as `write` does)."""
    seeds = sha256_int(ids, 8).astype(np.int64)
    fake = seeds / 2**32 < rate
    pick = seeds % np.where(own >= 0, len(_PROMO_VALUES) - 1, len(_PROMO_VALUES))
    return fake, pick + ((own >= 0) & (pick >= own))


def _pick(pool: pa.Array, index: np.ndarray) -> pa.Array | None:
    """pool[index[i]] per row; null where index[i] < 0 (None when that is every row)."""
    absent = index < 0
    return None if absent.all() else pool.take(pa.array(index, mask=absent))


def _concat(parts: list[pa.Array | None], n: int) -> pa.Array:
    """Row-wise concatenation of the parts of n rows, a null part counting as "" (None: a part no row has)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return _constant("", n)
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def _constant(value: str, n: int) -> pa.Array:
    """value in every one of n rows."""
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    """values where mask, null elsewhere."""
    return pc.if_else(pa.array(mask), values, pa.nulls(len(mask), values.type))


def reasons_from_table(table: pa.Table) -> list[Reason]:
    """Reason objects of a generate_columns table (features in the order the per-row path wrote them)."""
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    mentions = [json.loads(m) for m in cols["mentions"]]
    return [Reason(rid, item, seg, arm, text, gen, ver, sh,
                   {"mentions": m, "mentions_promo": p, "length": ln, "corrupted": c, "ai_generated": ai})
            for rid, item, seg, arm, text, gen, ver, sh, m, p, ln, c, ai in zip(
                cols["reason_id"], cols["item_id"], cols["segment"], cols["arm"], cols["text"], cols["generator"],
                cols["model_version"], cols["settings_hash"], mentions, cols["mentions_promo"], cols["length"],
                cols["corrupted"], cols["ai_generated"], strict=True)]


class TemplateGenerator:
    """Plain, non-personalized, fact-grounded reasons (the control arm)."""

    name = "template"
    model_version = "template-v1"

    def __init__(self) -> None:
        self.last_batch_seconds = 0.0

    def generate(self, requests: list[ReasonRequest], *, arm: str, settings: dict[str, Any]) -> list[Reason]:
        t0 = time.perf_counter()
        ids = pa.array(reason_keys(requests, arm=arm, model_version=self.model_version, settings=settings),
                       pa.string())
        table = self.generate_columns(RequestColumns.from_requests(requests), arm=arm, settings=settings,
                                      ids=ids, per_row=lambda i: requests[i])
        with paused_gc():
            out = reasons_from_table(table)
        self.last_batch_seconds = time.perf_counter() - t0
        return out

    def generate_columns(self, requests: RequestColumns, *, arm: str, settings: dict[str, Any],
                         ids: pa.Array | None = None, per_row: Any = None) -> pa.Table:
        """The reasons of a batch as an Arrow table (the `reasons` columns, features as columns:
        mentions as JSON text, mentions_promo, length, corrupted, ai_generated)."""
        n = len(requests)
        if ids is None:
            ids = reason_ids(requests, arm=arm, model_version=self.model_version, settings=settings)
        text, mentions, has_promo, corrupted = self._write_columns(requests, ids, settings, per_row)
        n_chars = lengths(text)
        names = list(vocab.LENGTH_BUCKETS)
        code = np.full(n, -1, dtype=np.int64)  # vocab.length_bucket: the first bucket that holds the length
        for k, (lo, hi) in reversed(list(enumerate(vocab.LENGTH_BUCKETS.values()))):
            code[(n_chars >= lo) & (n_chars <= hi)] = k
        bucket = pa.array(names, pa.string()).take(pa.array(code, mask=code < 0))
        return pa.table({
            "reason_id": ids,
            "item_id": requests.item_column("item_id"),
            "segment": requests.segment,
            "arm": _constant(arm, n),
            "text": text,
            "generator": _constant(self.name, n),
            "model_version": _constant(self.model_version, n),
            "settings_hash": _constant(stable_hash(settings), n),
            "mentions": mentions,
            "mentions_promo": pa.array(has_promo),
            "length": bucket,
            "corrupted": corrupted,
            "ai_generated": pa.array(np.zeros(n, dtype=bool)),
        })

    def _write_columns(self, req: RequestColumns, ids: pa.Array, settings: dict[str, Any], per_row: Any,
                       ) -> tuple[pa.Array, pa.Array, np.ndarray, pa.Array]:
        """`write` for every row at once: (text, mentions JSON, mentions_promo, corrupted).

        Clause lengths are known per item attribute; the clause loop only moves integer indices with numpy,
        and the text is assembled at the end, one column per part picked from small pools.
        """
        n, items = len(req), req.items
        rate = float(settings.get("inject_unfaithful_rate") or 0.0)
        t = items.table
        category, title = t["category"].combine_chunks(), t["title"].combine_chunks()
        discount = t["discount"].combine_chunks()
        ri = req.item_index

        # Per item: its order of attributes, and where each attribute's clause sits in the pool.
        order_item = _orders_of(category, title)
        pairs = items.pairs
        slot_of = np.array([_ATTRS.index(a) if a in _ATTRS else _NONE for a in pairs.names] + [_NONE], dtype=np.int64)
        pair_slot = slot_of[pairs.name] if len(pairs.name) else np.zeros(0, dtype=np.int64)
        where = np.full((len(items), _NONE + 1), -1, dtype=np.int64)
        where[pairs.item, pair_slot] = np.arange(len(pair_slot))
        where[:, _NONE] = -1
        # clauses are assembled only where used; a trailing 0 for the index -1 (no such attribute)
        clause_len = np.append(lengths(pairs.value) + _AFFIX_LEN[pair_slot], 0)

        length = req.length
        is_s = pc.equal(length, "S").to_numpy(zero_copy_only=False)
        is_l = pc.equal(length, "L").to_numpy(zero_copy_only=False)
        lo = np.full(n, _BUCKETS["M"][0], dtype=np.int64)
        hi = np.full(n, _BUCKETS["M"][1], dtype=np.int64)
        max_feats = np.full(n, 2, dtype=np.int64)
        for name, (b_lo, b_hi) in _BUCKETS.items():
            rows = pc.equal(length, name).to_numpy(zero_copy_only=False)
            lo[rows], hi[rows], max_feats[rows] = b_lo, b_hi, _MAX_FEATS.get(name, 2)

        # The promotion, as a code into a small dictionary (-1: none): the item's 促销 attribute, else its
        # discount as 8折 (when discounted); an injected one replaces it.
        own = pc.dictionary_encode(pairs.column(vocab.PROMO_ATTRIBUTE))
        own_code = pc.fill_null(own.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        has_own = np.append(lengths(own.dictionary) > 0, False)[own_code]
        amounts, amount_code = np.unique(discount.to_numpy(zero_copy_only=False), return_inverse=True)
        promos = pa.concat_arrays([own.dictionary.cast(pa.string()),
                                   pa.array([vocab.discount_text(float(v)) for v in amounts], pa.string())])
        promo_code = np.where(has_own, own_code, np.where(amounts[amount_code.ravel()] != 0.0,
                                                          len(own.dictionary) + amount_code.ravel(), -1))[ri]
        if rate > 0:
            surface = pc.fill_null(pc.index_in(promos, value_set=pa.array(_PROMO_VALUES)), -1).to_numpy(
                zero_copy_only=False).astype(np.int64)
            fake, fake_promo = _fake_promos(ids, np.append(surface, -1)[promo_code], rate)
            promo_code = np.where(fake, len(promos) + fake_promo, promo_code)
            promos = pa.concat_arrays([promos, pa.array(_PROMO_VALUES, pa.string())])
        else:
            fake = np.zeros(n, dtype=bool)
        promo_clauses = join(_PROMO[0], promos, _PROMO[1])
        promo_len = np.append(lengths(promo_clauses), 0)[promo_code]  # code -1: no promotion
        promo_nonempty = np.append(lengths(promos) > 0, False)[promo_code]

        order = order_item[ri]
        known = order < len(_ORDER_KEYS)
        not_s = ~is_s
        size = np.full(n, -1, dtype=np.int64)  # running length of "，".join(parts)
        size += np.where(not_s, _SUBJECT_LEN[order] + 1, 0)
        size += np.where(fake, promo_len + 1, 0)  # an injected claim comes right after the subject
        has_promo = fake.copy()
        # The feature clauses: per row, the pair at each position of its order (-1: absent), taken greedily.
        at = where[ri[:, None], _SLOTS[order]]
        at_len = clause_len[at]
        feature = np.full((n, _MOST), -1, dtype=np.int64)
        n_feats = np.zeros(n, dtype=np.int64)
        open_ = np.flatnonzero(max_feats > 0)  # rows that may take another feature
        for j in range(_POSITIONS):
            p, c_len = at[open_, j], at_len[open_, j]
            fits = (p >= 0) & (size[open_] + c_len + 1 <= hi[open_])
            ok = open_[fits]
            feature[ok, n_feats[ok]] = p[fits]
            size[ok] += c_len[fits] + 1
            n_feats[ok] += 1
            open_ = open_[n_feats[open_] < max_feats[open_]]
        add_promo = promo_nonempty & ~has_promo & not_s & (size + promo_len + 1 <= hi)
        size += np.where(add_promo, promo_len + 1, 0)
        has_promo |= add_promo
        add_price = np.zeros(n, dtype=bool)
        if is_l.any():
            eff = pc.multiply(t["price"].combine_chunks(), pc.subtract(1.0, discount))
            price = _by_value(eff, vocab.price_text)
            price_clauses = join(_PRICE[0], price, _PRICE[1])
            c_len = lengths(price_clauses)[ri]
            add_price = is_l & (size + c_len + 1 <= hi)
            size += np.where(add_price, c_len + 1, 0)
        cta = (size < lo) & (size + len(_CTA) + 1 <= hi)

        # The text and the mentions: one column per part, each with its separator in front (null where the row
        # lacks that part), concatenated; the first separator is cut off. Parts are picked from small pools.
        promo_text = join("，", promo_clauses)
        promo_mention = join(",[" + _PROMO_MENTION, json_quote(promos), "]")
        promo_at = np.where(fake, promo_code, -1)
        texts = [_pick(_SUBJECTS_SEP, np.where(not_s, order, -1)), _pick(promo_text, promo_at)]
        mentions = [_pick(promo_mention, promo_at)]
        for k in range(_MOST):
            p = feature[:, k]
            if (p < 0).all():
                continue
            slot = np.where(p >= 0, pair_slot[p], -1)
            texts += [_pick(_PRE_SEP, slot), _pick(pairs.value, p), _pick(_SUF, slot)]
            mentions.append(join(",[", pairs.json_body.take(pa.array(p, mask=p < 0)), "]"))
        promo_at = np.where(add_promo, promo_code, -1)
        texts.append(_pick(promo_text, promo_at))
        mentions.append(_pick(promo_mention, promo_at))
        if add_price.any():
            price_at = np.where(add_price, ri, -1)
            texts.append(_pick(join("，", price_clauses), price_at))
            mentions.append(_pick(join(",[" + _PRICE_MENTION, json_quote(price), "]"), price_at))
        texts.append(_pick(_CTA_SEP, np.where(cta, 0, -1)))
        text = pc.utf8_slice_codeunits(_concat(texts, n), 1)
        mention_json = join("[", pc.utf8_slice_codeunits(_concat(mentions, n), 1), "]")
        corrupted = _where(fake, _constant("fake_discount", n))
        if not known.all():
            text, mention_json, has_promo = self._per_row(req, ~known, fake, ids, text, mention_json, has_promo,
                                                          per_row)
        return text, mention_json, has_promo, corrupted

    def _per_row(self, req: RequestColumns, rows: np.ndarray, fake: np.ndarray, ids: pa.Array, text: pa.Array,
                 mentions: pa.Array, has_promo: np.ndarray, per_row: Any) -> tuple[pa.Array, pa.Array, np.ndarray]:
        """`write` for the given rows (a category or sub-category the vocabulary has no order for)."""
        texts, ments, promos = text.to_pylist(), mentions.to_pylist(), has_promo.copy()
        for i in np.flatnonzero(rows):
            r = per_row(int(i)) if per_row is not None else req.request(int(i))
            t, m, p = self.write(r, fake_promo_seed=request_seed(ids[i].as_py()) if fake[i] else None)
            texts[i], ments[i], promos[i] = t, json.dumps(m, ensure_ascii=False, separators=(",", ":")), p
        return pa.array(texts, pa.string()), pa.array(ments, pa.string()), promos

    @staticmethod
    def write(req: ReasonRequest, fake_promo_seed: int | None = None) -> tuple[str, list[list[str]], bool]:
        """(text, mentions, mentions_promo) for one request; the segment is ignored."""
        attrs = req.attributes
        promo = attrs.get(vocab.PROMO_ATTRIBUTE) or (vocab.discount_text(req.discount) if req.discount else None)
        fake_promo: str | None = None
        if fake_promo_seed is not None:
            choices = [p for p in _PROMO_VALUES if p != promo]
            promo = fake_promo = choices[fake_promo_seed % len(choices)]
        length = req.length
        sub = subcategory_of(req.category, req.title)
        order = _ORDER.get((req.category, sub))
        if order is None:
            order = [(a, *_FEATURE[a]) for a in attrs if a in _FEATURE]
        lo, hi = _BUCKETS.get(length, _BUCKETS["M"])
        max_feats = _MAX_FEATS.get(length, 2)

        parts: list[str] = []
        mentions: list[list[str]] = []
        size = -1  # running length of "，".join(parts)
        if length != "S":
            subject = "这款" + (sub or req.category)
            parts.append(subject)
            size += len(subject) + 1
        has_promo = False
        if fake_promo is not None:  # an injected claim must be shown
            clause = _PROMO[0] + fake_promo + _PROMO[1]
            parts.append(clause)
            mentions.append([vocab.PROMO_ATTRIBUTE, fake_promo])
            size += len(clause) + 1
            has_promo = True
        n_feats = 0
        for attr, pre, suf in order:
            value = attrs.get(attr)
            if value is None:
                continue
            clause = pre + value + suf
            if size + len(clause) + 1 > hi:
                continue
            parts.append(clause)
            mentions.append([attr, value])
            size += len(clause) + 1
            n_feats += 1
            if n_feats >= max_feats:
                break
        if promo and not has_promo and length != "S":
            clause = _PROMO[0] + promo + _PROMO[1]
            if size + len(clause) + 1 <= hi:
                parts.append(clause)
                mentions.append([vocab.PROMO_ATTRIBUTE, promo])
                size += len(clause) + 1
                has_promo = True
        if length == "L":
            price = vocab.price_text(req.price * (1.0 - (req.discount or 0.0)))
            clause = _PRICE[0] + price + _PRICE[1]
            if size + len(clause) + 1 <= hi:
                parts.append(clause)
                mentions.append([vocab.PRICE_ATTRIBUTE, price])
                size += len(clause) + 1
        if size < lo and size + len(_CTA) + 1 <= hi:
            parts.append(_CTA)
        return "，".join(parts), mentions, has_promo
