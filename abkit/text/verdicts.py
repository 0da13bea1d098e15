"""Faithfulness of many (item, text) pairs as array operations: the fast path of score_pairs.

Claims are extracted once per distinct text into a flat table, each claim interned by what its
verdict depends on besides the item (kind and value of a number; key, attributes and surface of
a lexicon mention). Pairs are expanded to (pair, claim) rows with numpy, a verdict is computed
once per distinct (item, claim) by the very calls check_cased makes
(FaithfulnessChecker._judge_numeric / _judge_mention) and spread back by index; a pair's flags
(any contradicted / unsupported / subjective claim, a promotion mentioned) and the attributes
its supported claims cover are then bincounts. The other half of coverage, an item's attribute
value named verbatim in the text, comes from one Aho-Corasick scan of all texts for all the
items' values, matched to the pair's item by a sorted-key lookup.
Whether a claim counts can depend on another claim's verdict for the item (a number of a kind
the item lacks, inside a known value, is dropped; a mention overlapping a kept number is
dropped): the table keeps those "inside" rows and overlap edges, resolved per pair by masks.
Claim lists (wanted for flagged pairs only) are left to the per-pair judge, abkit.text.batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import ahocorasick
import numpy as np
import pandas as pd

from abkit.text.clauses import Clauses, clause_of, cut, expand, joined_offsets, ranges, separators_outside
from abkit.text.faithfulness import PROMO_WORD_KEYS, FaithfulnessChecker, _Profile
from abkit.text.items import ItemFacts
from abkit.text.lexicon import PROMO_ATTRIBUTE, ValueLexicon, range_dash
from abkit.text.numeric import _CLAIM_RE_LINES, NumClaim, _claim, extract_numeric_many

SUPPORTED, CONTRADICTED, UNSUPPORTED, SUBJECTIVE = 0, 1, 2, 3
_CODE = {"supported": SUPPORTED, "contradicted": CONTRADICTED, "unsupported": UNSUPPORTED, "subjective": SUBJECTIVE}

MentionKey = tuple[str, tuple[str, ...], str]  # (key, attrs, cased surface)


@dataclass(frozen=True)
class ClaimTable:
    """The claims of many texts: rows ptr[t]:ptr[t+1] of ``claim`` belong to text t."""

    clauses: Clauses  # the texts' distinct clauses, as the scans saw them
    lowered: str  # the texts as mentions and attribute values are matched in (case-folded), joined by NUL
    offsets: np.ndarray  # int64, n_texts + 1: where each text starts in ``lowered``
    ptr: np.ndarray  # int64, n_texts + 1
    claim: np.ndarray  # int64 claim id per row (numbers first, then mentions, as check_cased walks them)
    inside: np.ndarray  # bool per row: a number inside a lexicon value that names attributes
    edge_ptr: np.ndarray  # int64, n_texts + 1: text t's overlaps are edges edge_ptr[t]:edge_ptr[t+1]
    edge_mention: np.ndarray  # int64 per edge: the row of a mention ...
    edge_number: np.ndarray  # ... that overlaps the row of this number
    reps: list[NumClaim | MentionKey]  # per claim id: a representative
    item_free: np.ndarray  # bool per claim id: a mention with no attributes, subjective for every item


def _intern(ids: dict[object, int], reps: list, key: object, rep: object) -> int:
    cid = ids.get(key)
    if cid is None:
        cid = ids[key] = len(reps)
        reps.append(rep)
    return cid


def _numbers(matches: Iterator[re.Match[str]], ids: dict[object, int], reps: list) -> list[tuple[int, int, int]]:
    """(start, end, claim id) of each numeric claim. A claim's kind and value follow from the pattern
    alternative that matched and the matched string, so numeric._claim runs once per distinct pair."""
    seen: dict[tuple[str | None, str], int] = {}
    out = []
    for m in matches:
        key = (m.lastgroup, m.group())
        cid = seen.get(key)
        if cid is None:
            c = _claim(m)
            cid = seen[key] = -1 if c is None else _intern(ids, reps, (c.kind, c.value), c)
        if cid >= 0:
            out.append((m.start(), m.end(), cid))
    return out


def prepared_joined(faith: FaithfulnessChecker, cased: Sequence[str]) -> tuple[str, str, np.ndarray, np.ndarray | None]:
    """``faith.prepared`` of every string, joined by NUL: (cased, lowered, offsets, texts scanned cased or None).
    Digit ranges are dashed and case folded in one pass over the joined string (neither the range pattern
    nor case mapping looks across a NUL); a text that lowering would lengthen is scanned cased."""
    joined = "\0".join(cased)
    if joined.count("\0") != len(cased) - 1:  # a text holds NUL: prepare text by text
        pairs = [faith.prepared(c) for c in cased]
        pcased = [c for c, _ in pairs]
        scanned_cased = np.fromiter((c == low and c != c.lower() for c, low in pairs), bool, len(pairs))
        return "\0".join(pcased), "\0".join(low for _, low in pairs), joined_offsets(pcased), scanned_cased
    dashed = range_dash(joined)
    texts = dashed.split("\0") if len(dashed) != len(joined) else cased
    offsets = joined_offsets(list(texts))
    lowered = dashed.lower()
    if len(lowered) == len(dashed):  # str.lower never shortens: every text kept its length
        return dashed, lowered, offsets, None
    pairs = [faith.prepared(c) for c in texts]
    scanned_cased = np.fromiter((c == low and c != c.lower() for c, low in pairs), bool, len(pairs))
    return dashed, "\0".join(low for _, low in pairs), offsets, scanned_cased


def _clause_numbers(clauses: Clauses, ids: dict[object, int], reps: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, claim id) of every numeric claim of every text, offsets in the joined texts: one regex
    scan over the distinct clauses, spread to their occurrences."""
    starts = joined_offsets(clauses.cased)
    joined = "\n".join(clauses.cased)
    if joined.count("\n") != len(clauses.cased) - 1:  # a clause holds a newline: scan clause by clause
        found = [(c.start + int(o), c.end + int(o), _intern(ids, reps, (c.kind, c.value), c))
                 for cs, o in zip(extract_numeric_many(clauses.cased), starts.tolist(), strict=False) for c in cs]
    else:
        found = _numbers(_CLAIM_RE_LINES.finditer(joined), ids, reps)
    flat = np.fromiter(chain.from_iterable(found), np.int64, 3 * len(found)).reshape(-1, 3)
    clause, offset = clause_of(starts, flat[:, 0])
    hit, occurrence = clauses.occurrences(clause)
    start = clauses.start[occurrence] + offset[hit]
    return start, start + (flat[hit, 1] - flat[hit, 0]), flat[hit, 2]


def _clause_mentions(lex: ValueLexicon, clauses: Clauses, ids: dict[object, int],
                     reps: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, entry, claim id) of every lexicon mention of every text: one leftmost-longest scan over
    the distinct clauses. A mention is keyed by its surface: the entry's own spelling unless the clause
    was case-folded there."""
    starts = joined_offsets(clauses.lowered)
    m_end, m_entry = lex.mention_arrays("\0".join(clauses.lowered))
    m_start = m_end - lex._entry_length[m_entry] if m_end.size else m_end
    clause, offset = clause_of(starts, m_start)
    m_claim = np.empty(m_end.shape[0], np.int64)
    entry_claim: dict[int, int] = {}
    for k, (e, c, s0) in enumerate(zip(m_entry.tolist(), clause.tolist(), offset.tolist(), strict=True)):
        entry = lex.entries[e]
        folded = clauses.cased[c] != clauses.lowered[c]
        if not folded:
            cid = entry_claim.get(e)
            if cid is not None:
                m_claim[k] = cid
                continue
        key = (entry[0], entry[1], clauses.cased[c][s0:s0 + entry[2]] if folded else entry[4])
        cid = ids.get(key)
        if cid is None:
            cid = ids[key] = len(reps)
            reps.append(key)
        if not folded:
            entry_claim[e] = cid
        m_claim[k] = cid
    hit, occurrence = clauses.occurrences(clause)
    start = clauses.start[occurrence] + offset[hit]
    return start, start + lex._entry_length[m_entry[hit]], m_entry[hit], m_claim[hit]


def claim_table(faith: FaithfulnessChecker, cased: Sequence[str]) -> ClaimTable:
    """ClaimTable of normalize(text, casefold=False, keep_spaces=True) strings: batch.text_claims as arrays,
    from one regex scan and one lexicon scan over the texts' distinct clauses (abkit.text.clauses)."""
    n_texts = len(cased)
    pcased, lowered, offsets, scanned_cased = prepared_joined(faith, cased)
    lex = faith.lexicon
    clauses = cut(pcased, offsets, separators_outside(e[4] for e in lex.entries), scanned_cased)
    ids: dict[object, int] = {}
    reps: list[NumClaim | MentionKey] = []
    n_start, n_end, n_claim = _clause_numbers(clauses, ids, reps)
    n_text = np.searchsorted(offsets, n_start, side="right") - 1
    m_start, m_end, m_entry, m_claim = _clause_mentions(lex, clauses, ids, reps)
    m_text = np.searchsorted(offsets, m_start, side="right") - 1

    # rows: per text its numbers, then its mentions (check_cased's order)
    n_nums, n_mentions = n_claim.shape[0], m_end.shape[0]
    text = np.concatenate([n_text, m_text])
    order = np.lexsort((np.r_[np.zeros(n_nums, np.int64), np.ones(n_mentions, np.int64)], text))  # stable
    row_of = np.empty(order.shape[0], np.int64)
    row_of[order] = np.arange(order.shape[0])
    ptr = np.zeros(n_texts + 1, np.int64)
    np.cumsum(np.bincount(text, minlength=n_texts), out=ptr[1:])

    # every (number, mention) of one text: inside (a number within a value that names attributes), overlap
    m_ptr = np.zeros(n_texts + 1, np.int64)
    np.cumsum(np.bincount(m_text, minlength=n_texts), out=m_ptr[1:])
    num, men = expand(m_ptr, n_text)
    overlap = (n_start[num] < m_end[men]) & (m_start[men] < n_end[num])
    has_attrs = np.array([bool(e[1]) for e in lex.entries], bool)[m_entry[men]] if men.size else overlap
    within = has_attrs & (m_start[men] <= n_start[num]) & (n_end[num] <= m_end[men])
    inside = np.zeros(order.shape[0], bool)
    inside[row_of[num[within]]] = True
    edge_mention, edge_number = row_of[n_nums + men[overlap]], row_of[num[overlap]]
    edge_ptr = np.zeros(n_texts + 1, np.int64)
    np.cumsum(np.bincount(n_text[num[overlap]], minlength=n_texts), out=edge_ptr[1:])
    item_free = np.fromiter((not isinstance(r, NumClaim) and not r[1] for r in reps), bool, len(reps))
    return ClaimTable(clauses, lowered, offsets, ptr, np.concatenate([n_claim, m_claim])[order], inside, edge_ptr,
                      edge_mention, edge_number, reps, item_free)


@dataclass(frozen=True)
class PairFlags:
    """Per pair: check_cased's verdict summary."""

    contradicted: np.ndarray  # bool
    unsupported: np.ndarray  # bool
    subjective: np.ndarray  # bool
    promo: np.ndarray  # bool
    n_covered: np.ndarray  # int64: item attributes the text mentions
    n_attributes: np.ndarray  # int64: the item's attributes


def judge_pairs(faith: FaithfulnessChecker, items: Sequence[ItemFacts], item_code: np.ndarray,
                text_code: np.ndarray, table: ClaimTable, promo_kinds: frozenset[str]) -> PairFlags:
    """Verdict summaries of pairs (items[item_code[i]], table text text_code[i]); see the module doc."""
    n = item_code.shape[0]
    n_claims = max(len(table.reps), 1)
    profiles: dict[int, _Profile] = {}

    def profile(code: int) -> _Profile:
        p = profiles.get(code)
        if p is None:
            p = profiles[code] = faith.profile(items[code])
        return p

    # item attributes, each named by its position in the item's attributes (what a pair covers is
    # counted per position), and their normalized values, per item code (CSR)
    n_items = len(items)
    value_ids: dict[str, int] = {}
    attr_ptr = np.zeros(n_items + 1, np.int64)
    attr_attr: list[int] = []
    attr_value: list[int] = []
    n_attributes = np.zeros(n_items, np.int64)
    key_ids: dict[str, int] = {}
    canon: list[tuple[int, int, int]] = []  # (item code, canonical value id, attribute position): canon_attr
    positions: dict[int, dict[str, int]] = {}
    for code in np.unique(item_code).tolist():
        p = profile(code)
        position = positions[code] = _positions(p)
        n_attributes[code] = len(position)
        for attr, value in p.attr_lower.items():
            if value:
                attr_attr.append(position[attr])
                attr_value.append(value_ids.setdefault(value, len(value_ids)))
        attr_ptr[code + 1] = len(attr_attr)
        canon.extend((code, key_ids.setdefault(v, len(key_ids)), position[a]) for v, a in p.canon_attr.items())
    attr_ptr = np.maximum.accumulate(attr_ptr)  # items not in this batch: empty segments

    # (pair, claim) rows and one verdict per distinct (item, claim)
    row_pair, row = expand(table.ptr, text_code)
    pair_claim = item_code[row_pair].astype(np.int64) * n_claims + table.claim[row]
    inv, uniq = pd.factorize(pair_claim, sort=True)
    u_item = (uniq // n_claims).tolist()
    u_claim = uniq % n_claims
    verdict = np.full(uniq.shape[0], SUBJECTIVE, np.int8)
    covers = np.full(uniq.shape[0], -1, np.int64)
    promo = np.zeros(uniq.shape[0], bool)
    reps = table.reps
    judged = ~table.item_free[u_claim]
    # a mention of one of the item's own canonical values: supported by that attribute (the first test of
    # _judge_mention after the promotion words), found for all (item, claim) at once by a sorted lookup
    claim_key = np.array([key_ids.get(r[0], -1) if not isinstance(r, NumClaim) and r[1] and not (
        r[0] in PROMO_WORD_KEYS and PROMO_ATTRIBUTE in r[1]) else -1 for r in reps], np.int64)
    if canon and claim_key.size:
        table_c = np.asarray(canon, np.int64)
        n_keys = len(key_ids)
        c_key = table_c[:, 0] * n_keys + table_c[:, 1]
        sort = np.argsort(c_key)
        c_key, c_attr = c_key[sort], table_c[sort, 2]
        ck = claim_key[u_claim]
        want = np.flatnonzero(judged & (ck >= 0))
        q = (uniq[want] // n_claims) * n_keys + ck[want]
        at = np.minimum(np.searchsorted(c_key, q), c_key.shape[0] - 1)
        hit = c_key[at] == q
        verdict[want[hit]] = SUPPORTED
        covers[want[hit]] = c_attr[at[hit]]
        judged[want[hit]] = False
    for j in np.flatnonzero(judged).tolist():
        p = profile(u_item[j])
        rep = reps[int(u_claim[j])]
        if isinstance(rep, NumClaim):
            v, claim = faith._judge_numeric(rep, p)
            promo[j] = rep.kind in promo_kinds
        else:
            v, claim = faith._judge_mention(rep[0], rep[1], 0, 0, rep[2], p)
            promo[j] = claim.kind in promo_kinds  # "subjective" is no promotion kind
        verdict[j] = _CODE[v]
        held = claim.attribute
        if v == "supported" and held is not None and held in p.item.attributes:
            covers[j] = positions[u_item[j]][held]
    rv = verdict[inv]
    # check_cased drops a number the item has no kind for inside a known value, and a mention that
    # overlaps a number it keeps
    active = ~(table.inside[row] & (rv == UNSUPPORTED))
    edge_pair, edge = expand(table.edge_ptr, text_code)
    if edge.size:
        first_row = np.zeros(n, np.int64)
        np.cumsum(np.diff(table.ptr)[text_code][:-1], out=first_row[1:])
        base = first_row[edge_pair] - table.ptr[text_code[edge_pair]]
        kept_edge = active[base + table.edge_number[edge]]
        active[base[kept_edge] + table.edge_mention[edge[kept_edge]]] = False
    row_pair, rv, inv = row_pair[active], rv[active], inv[active]

    def any_of(mask: np.ndarray) -> np.ndarray:
        return np.bincount(row_pair[mask], minlength=n) > 0

    # attributes covered by supported claims, and by their value named in the text: (pair, position) marks
    row_covers = covers[inv]
    by_claim = (rv == SUPPORTED) & (row_covers >= 0)
    covered = [(row_pair[by_claim], row_covers[by_claim])]
    found = _values_in_texts(value_ids, table)
    if found.size:  # (text, value) hits -> the pairs of that text whose item has that value
        n_values = len(value_ids)
        by_text = np.argsort(text_code, kind="stable")
        n_texts = table.offsets.shape[0] - 1
        text_ptr = np.zeros(n_texts + 1, np.int64)
        np.cumsum(np.bincount(text_code, minlength=n_texts), out=text_ptr[1:])
        hit, at = expand(text_ptr, found // n_values)
        pair = by_text[at]
        owner = np.repeat(np.arange(n_items), np.diff(attr_ptr))  # item code of each item attribute
        item_value = owner * n_values + np.asarray(attr_value, np.int64)
        sort = np.argsort(item_value, kind="stable")
        item_value, attr_sorted = item_value[sort], np.asarray(attr_attr, np.int64)[sort]
        key = item_code[pair].astype(np.int64) * n_values + found[hit] % n_values
        lo = np.searchsorted(item_value, key, "left")
        hi = np.searchsorted(item_value, key, "right")
        which, k = ranges(lo, hi)
        covered.append((pair[which], attr_sorted[k]))
    n_covered = _distinct_per_pair(covered, n, int(n_attributes.max(initial=0)))
    return PairFlags(
        contradicted=any_of(rv == CONTRADICTED), unsupported=any_of(rv == UNSUPPORTED),
        subjective=any_of(rv == SUBJECTIVE), promo=any_of(promo[inv]),
        n_covered=n_covered, n_attributes=n_attributes[item_code])


def _positions(p: _Profile) -> dict[str, int]:
    """Attribute -> its position in the item's attributes."""
    return {a: k for k, a in enumerate(p.item.attributes)}


DENSE_MARKS = 1 << 26  # (pair, attribute position) cells up to which distinct marks are counted in a dense grid


def _distinct_per_pair(marks: list[tuple[np.ndarray, np.ndarray]], n: int, width: int) -> np.ndarray:
    """Per pair: how many distinct positions (< width) the (pair, position) marks name (duplicates allowed)."""
    pair = np.concatenate([p for p, _ in marks])
    pos = np.concatenate([q for _, q in marks])
    if pair.size == 0:
        return np.zeros(n, np.int64)
    if n * width <= DENSE_MARKS:  # scatter into a grid: no hashing or sorting of the marks
        grid = np.zeros((n, width), bool)
        grid[pair, pos] = True
        return grid.sum(axis=1, dtype=np.int64)
    keys = np.unique(pair * width + pos)
    return np.bincount(keys // width, minlength=n)


def _values_in_texts(value_ids: dict[str, int], table: ClaimTable) -> np.ndarray:
    """text * len(value_ids) + value id of every occurrence of a value in a text (a value may repeat): values
    without a cut character found once per distinct clause, any other in the whole texts."""
    n_values = len(value_ids)
    cuts = "\0" + table.clauses.separators
    crossing = {v for v in value_ids if any(c in v for c in cuts)}
    out = [np.zeros(0, np.int64)]
    clauses = table.clauses
    if len(crossing) < n_values:
        plain = {v: k for v, k in value_ids.items() if v not in crossing}
        clause, vid = _occurrences(plain, clauses.lowered, joined_offsets(clauses.lowered))
        hit, occurrence = clauses.occurrences(clause)
        out.append(clauses.text[occurrence] * n_values + vid[hit])
    if crossing:
        text, vid = _occurrences({v: value_ids[v] for v in crossing}, table.lowered, table.offsets)
        out.append(text * n_values + vid)
    return np.concatenate(out)


def _occurrences(values: dict[str, int], strings: list[str] | str, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(string, value id) of every occurrence of every value in strings joined by NUL (starting at ``starts``)."""
    joined = strings if isinstance(strings, str) else "\0".join(strings)
    empty = np.zeros(0, np.int64)
    if not values or not joined:
        return empty, empty
    auto = ahocorasick.Automaton()
    for value, k in values.items():
        auto.add_word(value, (k, len(value)))
    auto.make_automaton()
    hits = list(auto.iter(joined))
    if not hits:
        return empty, empty
    flat = np.fromiter(chain.from_iterable((end, k, n) for end, (k, n) in hits), np.int64, 3 * len(hits)).reshape(-1, 3)
    ends, vid, length = flat[:, 0], flat[:, 1], flat[:, 2]
    owner = np.searchsorted(starts, ends, side="right") - 1
    inside = ends - length + 1 >= starts[owner]  # a value with a NUL of its own must not span two strings
    return owner[inside], vid[inside]
