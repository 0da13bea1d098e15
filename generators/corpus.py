"""The reference reason corpus: a persona-aware, fact-grounded grammar with gold labels.

Reason = [hook(persona)]? + [subject]? feature_clause × 1–3 (ordered by the persona's aspect
weights) + [benefit/scene]? + [promo]? + [CTA]?  (docs/text.md). Every clause has 5–15
paraphrase templates; slot values are copied verbatim, so the gold `mentions` of a row are
exactly the (attribute, value) pairs whose value string appears in its text.

Hold-outs (for generalization tests): a share of templates in each large pool is never used
by a 'train' row, and a share of (category, attribute-pair) value combinations never occurs
in a 'train' row (every item carrying such a combination is 'heldout').

Corrupted rows (negatives for faithfulness / compliance checks) say what they are:
  wrong_value     one mentioned attribute carries a value the item does not have
  invented_spec   mentions an attribute the item does not have at all
  banned_term     contains an absolute term of the ad law (abkit.world.vocab.ABSOLUTE_TERMS)
  fake_discount   claims a promotion the item does not have
Each row is generated from its own random stream seeded by (seed, item, persona, k), so a
row does not depend on which other items are in the batch.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from typing import Any

import pandas as pd

from abkit.world import vocab

# --------------------------------------------------------------------------------------------
# Templates ({v} is the verbatim value). Index 0 of each pool is the plain form used by the
# template generator. No template text may contain a catalog value (checked in the tests).
# --------------------------------------------------------------------------------------------

FEATURE_TEMPLATES: dict[str, list[str]] = {
    "材质": ["{v}材质", "{v}面料", "采用{v}", "选用{v}", "{v}用料", "{v}做的", "用的是{v}", "{v}材质更安心",
           "{v}打造", "精选{v}"],
    "风格": ["{v}风格", "{v}风", "{v}设计", "走{v}路线", "{v}范儿", "一眼{v}", "{v}调调", "{v}感十足"],
    "季节": ["适合{v}", "{v}穿正合适", "{v}必备", "{v}新款", "{v}上身刚好", "{v}衣橱常备"],
    "版型": ["{v}版型", "{v}剪裁", "{v}版型不挑人", "{v}上身利落", "{v}设计感", "版型{v}"],
    "卖点": ["{v}", "主打{v}", "亮点是{v}", "{v}很实用", "{v}做得好", "{v}看得见", "{v}这点很加分", "{v}表现出色"],
    "颜色": ["{v}", "{v}很百搭", "{v}配色", "选{v}显气质", "{v}上身好看", "经典{v}", "{v}耐看"],
    "尺码": ["{v}可选", "尺码{v}", "{v}都有", "提供{v}", "{v}任你挑"],
    "肤质": ["适合{v}", "{v}也能用", "{v}友好", "{v}放心用", "{v}适用", "专为{v}设计"],
    "功效": ["主打{v}", "{v}", "{v}效果好", "{v}在线", "{v}有一套", "强调{v}"],
    "成分": ["添加{v}", "含{v}", "{v}成分", "核心成分{v}", "{v}配方", "复配{v}"],
    "质地": ["{v}质地", "质地{v}", "{v}好推开", "{v}不黏腻", "上脸{v}", "肤感{v}"],
    "规格": ["{v}", "规格{v}", "{v}够用", "{v}很实在", "{v}很能打", "配置{v}", "{v}刚刚好"],
    "产地": ["{v}产地", "产自{v}", "{v}直采", "来自{v}", "{v}原产", "{v}好原料"],
    "口味": ["{v}口味", "{v}好吃", "口感{v}", "{v}不腻", "{v}一口接一口", "{v}风味"],
    "标签": ["{v}", "主打{v}", "{v}更健康", "{v}配方", "{v}吃着没负担", "{v}更放心"],
    "储存": ["{v}保存", "{v}储存", "{v}存放很方便", "支持{v}保存", "{v}放着就行"],
    "场景": ["适合{v}", "{v}正合适", "{v}用得上", "{v}场景百搭", "{v}必备", "{v}好搭档"],
    "月龄": ["适合{v}宝宝", "{v}可用", "{v}宝宝适用", "专为{v}设计", "{v}阶段放心用"],
    "装帧": ["{v}版本", "{v}装帧", "{v}收藏更好看", "{v}质感好", "{v}送礼体面"],
    "读者": ["适合{v}", "{v}读起来不费劲", "{v}必读", "{v}也能看懂", "推荐给{v}", "{v}友好"],
    "页数": ["全书{v}", "{v}内容充实", "{v}干货满满", "厚厚{v}", "共{v}"],
    "评分": ["评分{v}", "买家打出{v}", "{v}高分口碑", "口碑{v}", "用户评分{v}", "{v}好评如潮"],
    "好评率": ["{v}", "{v}口碑在线", "买家{v}", "{v}回头客多", "收获{v}"],
    "月销": ["{v}", "{v}人气爆款", "{v}大家都在买", "已{v}", "{v}口碑好"],
    "发货": ["{v}", "{v}不用等", "支持{v}", "下单{v}", "{v}很省心"],
    "售后": ["{v}", "支持{v}", "{v}放心买", "享{v}", "{v}售后无忧", "提供{v}"],
    "价格": ["到手{v}元", "只要{v}元", "¥{v}到手", "到手仅{v}元", "{v}元就能带走", "券后{v}元", "现价{v}元",
           "{v}元入手", "仅需¥{v}"],
}
PROMO_TEMPLATES: list[str] = ["现在{v}", "正在{v}", "{v}更划算", "下单{v}", "叠加{v}", "店铺{v}", "今天{v}",
                              "{v}进行中", "赶上{v}"]
SUBJECT_TEMPLATES: list[str] = ["这款{sub}", "{brand}{sub}", "{brand}家的{sub}", "{brand}这款{sub}", "{brand}出品的{sub}"]
SCENE_TEMPLATES: list[str] = ["日常用很合适", "居家出行都合适", "入手不会后悔", "送人自用都合适", "用起来很顺手",
                              "性价比在线"]
CTA_TEMPLATES: list[str] = ["快来看看", "赶紧加购", "点击了解", "入手不亏", "值得一试", "喜欢就带走", "放心下单",
                            "加入购物车吧", "戳进来看看", "错过可惜"]
HOOK_FRAMES: list[str] = ["{h}！", "{h}，", "{h}："]
GENERIC_HOOKS: list[str] = ["好物推荐", "今日好物", "发现好物", "这款值得看看"]
FEATURE_CONNECTORS: list[str] = ["，", "、", "，还", "，而且", "，同时"]
END_MARKS: list[str] = ["", "！", "。"]
BANNED_FRAMES: list[str] = ["{t}好物", "{t}品质", "品质{t}", "{t}之选", "{t}"]

# The category attribute pair whose value combinations are held out (first two attributes).
COMBO_ATTRIBUTES: dict[str, tuple[str, str]] = {
    cat: tuple(list(spec["attributes"])[:2]) for cat, spec in vocab.CATEGORIES.items()
}
CORRUPTION_KINDS: tuple[str, ...] = ("wrong_value", "invented_spec", "banned_term", "fake_discount")
COLUMNS = ["item_id", "segment", "length", "text", "template_ids", "mentions", "mentions_promo",
           "persona_aspect_hit", "corrupted", "split"]

_MAX_FEATURES = {"S": 1, "M": 2, "L": 3}
_MIN_FEATURES = {"S": 1, "M": 1, "L": 2}
_LEXICON = vocab.value_lexicon()
_PROMO_VALUES = sorted(vocab.render_promos())


def item_facts(price: float, discount: float, attributes: dict[str, str]) -> dict[str, str]:
    """attribute -> verbatim value, including 价格 (effective price) and 促销 when the item has one."""
    facts = {k: str(v) for k, v in attributes.items() if v not in (None, "")}
    effective = float(price) * (1.0 - float(discount or 0.0))
    facts[vocab.PRICE_ATTRIBUTE] = vocab.price_text(effective)
    if vocab.PROMO_ATTRIBUTE not in facts and discount and discount > 0:
        facts[vocab.PROMO_ATTRIBUTE] = vocab.discount_text(float(discount))
    return facts


def _h(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:12], 16)


def heldout_templates(fraction: float, seed: int) -> dict[str, set[int]]:
    """Pool name -> indices held out of training (pools with ≥5 templates keep ≥4 for training)."""
    out: dict[str, set[int]] = {}
    if fraction <= 0:
        return out
    pools = {f"feat.{a}": len(t) for a, t in FEATURE_TEMPLATES.items()}
    pools.update({"promo": len(PROMO_TEMPLATES), "cta": len(CTA_TEMPLATES), "scene": len(SCENE_TEMPLATES),
                  "subj": len(SUBJECT_TEMPLATES)})
    for pool, n in pools.items():
        if n < 5:
            continue
        k = min(max(1, round(fraction * n)), n - 4)
        ranked = sorted(range(n), key=lambda i: _h("tpl", seed, pool, i))
        out[pool] = set(ranked[:k])
    return out


class _Row:
    """Mutable state of one reason being written."""

    __slots__ = ("parts", "ids", "mentions")

    def __init__(self) -> None:
        self.parts: dict[str, str] = {}
        self.ids: list[str] = []
        self.mentions: list[list[str]] = []


class ReasonGrammar:
    """Writes one reason for (item facts, persona, length) with gold labels."""

    def __init__(self, seed: int = 0, holdout_templates: float = 0.0) -> None:
        self.seed = seed
        self.held = heldout_templates(holdout_templates, seed)

    # -- template choice respecting the split ------------------------------------------------
    def _pick(self, rng: random.Random, pool: str, n: int, mode: str) -> int:
        held = self.held.get(pool, set())
        if mode == "heldout_force" and held:
            return rng.choice(sorted(held))
        if mode == "train" and held:
            return rng.choice([i for i in range(n) if i not in held])
        return rng.randrange(n)

    def write(
        self,
        rng: random.Random,
        facts: dict[str, str],
        *,
        category: str,
        subcategory: str,
        brand: str,
        persona: str | None,
        length: str,
        mode: str = "any",
        corruption: str | None = None,
    ) -> tuple[str, list[str], list[list[str]], bool] | None:
        """Return (text, template ids, mentions, mentions_promo), or None if the length bucket cannot be met."""
        lo, hi = vocab.LENGTH_BUCKETS[length]
        promo_value = facts.get(vocab.PROMO_ATTRIBUTE)
        candidates = [a for a in facts if a != vocab.PROMO_ATTRIBUTE and a in FEATURE_TEMPLATES]
        shown = dict(facts)  # what the text will claim (corruptions edit this, not the item)
        forced: list[str] = []
        if corruption == "invented_spec":
            missing = [a for a in vocab.CATEGORIES.get(category, {}).get("attributes", {}) if a not in facts]
            missing += [a for a in ("规格", "功效", "标签", "卖点") if a not in facts and a not in missing]
            if not missing:
                return None
            attr = rng.choice(missing)
            shown[attr] = rng.choice(sorted(_LEXICON[attr]))
            candidates.append(attr)
            forced.append(attr)
        if corruption == "fake_discount":
            promo_value = rng.choice([p for p in _PROMO_VALUES if p != facts.get(vocab.PROMO_ATTRIBUTE)])

        for _attempt in range(12):
            order = self._order(rng, candidates, persona)
            for attr in forced:
                order.remove(attr)
                order.insert(0, attr)
            n_feat = rng.randint(_MIN_FEATURES[length], min(_MAX_FEATURES[length], len(order)))
            feats = order[:n_feat]
            if corruption == "wrong_value":
                wrong = self._wrong_value(rng, facts, feats)
                if wrong is None:
                    continue
                shown = wrong
            row = self._compose(rng, shown, feats, persona, subcategory, brand, promo_value, mode, lo, hi,
                                corruption)
            if row is None:
                continue
            text = self._join(row)
            if lo <= len(text) <= hi:
                return text, row.ids, row.mentions, "promo" in row.parts
        return None

    @staticmethod
    def _wrong_value(rng: random.Random, facts: dict[str, str], feats: list[str]) -> dict[str, str] | None:
        """Facts with one feature's value swapped for another value of the same attribute."""
        attr = rng.choice(feats)
        true = facts[attr]
        if attr == vocab.PRICE_ATTRIBUTE:
            alt = [vocab.price_text(float(true) * m) for m in (0.6, 0.7, 0.8, 1.3, 1.5)]
        else:
            alt = sorted(_LEXICON.get(attr, set()))
        alt = [a for a in alt if a not in true and true not in a]
        if not alt:
            return None
        shown = dict(facts)
        shown[attr] = rng.choice(alt)
        return shown

    def _order(self, rng: random.Random, attrs: list[str], persona: str | None) -> list[str]:
        if persona is None:
            keyed = [(rng.random(), a) for a in attrs]
        else:
            keyed = [(vocab.persona_weight(persona, a) + 0.35 * rng.random(), a) for a in attrs]
        return [a for _, a in sorted(keyed, reverse=True)]

    def _compose(self, rng, shown, feats, persona, subcategory, brand, promo_value, mode, lo, hi, corruption):
        row = _Row()
        clauses: list[str] = []
        for i, attr in enumerate(feats):
            n = len(FEATURE_TEMPLATES[attr])
            idx = self._pick(rng, f"feat.{attr}", n, "heldout_force" if (mode == "heldout_force" and i == 0) else
                             ("train" if mode == "train" else "any"))
            clauses.append(FEATURE_TEMPLATES[attr][idx].format(v=shown[attr]))
            row.ids.append(f"feat.{attr}.{idx}")
            row.mentions.append([attr, shown[attr]])
        body = clauses[0]
        for clause in clauses[1:]:
            c = rng.randrange(len(FEATURE_CONNECTORS))
            body += FEATURE_CONNECTORS[c] + clause
        row.parts["body"] = body
        if len(self._join(row)) > hi:
            return None
        pmode = "train" if mode == "train" else "any"
        # Optional parts in random order, each kept with its probability if it fits the bucket.
        w_promo = vocab.persona_weight(persona, vocab.PROMO_ATTRIBUTE)
        optional = [
            ("hook", 0.55 if persona else 0.25),
            ("subject", 0.35),
            ("scene", 0.5),
            ("promo", (0.35 + 0.6 * w_promo) if promo_value else 0.0),
            ("cta", 0.35),
        ]
        if corruption == "banned_term":
            optional.append(("banned", 1.0))
        if corruption == "fake_discount":
            optional = [(k, 1.0 if k == "promo" else p) for k, p in optional]
        rng.shuffle(optional)
        must = [k for k, p in optional if p >= 1.0]
        maybe = [k for k, p in optional if 0 < p < 1.0 and rng.random() < p]
        rest = [k for k, p in optional if p > 0 and k not in maybe and k not in must]
        for group, required in ((must, True), (maybe, False), (rest, False)):
            for key in group:
                if not required and group is rest and len(self._join(row)) >= lo:
                    break
                trial = self._part(rng, key, persona, subcategory, brand, promo_value, pmode)
                if trial is None:
                    continue
                text, tid = trial
                row.parts[key] = text
                if len(self._join(row)) > hi:
                    del row.parts[key]
                    if required:
                        return None
                    continue
                row.ids.append(tid)
                if key == "promo":
                    row.mentions.append([vocab.PROMO_ATTRIBUTE, promo_value])
        end = rng.randrange(len(END_MARKS))
        if END_MARKS[end] and len(self._join(row)) < hi:
            row.parts["end"] = END_MARKS[end]
        return row

    def _part(self, rng, key, persona, subcategory, brand, promo_value, mode):
        if key == "hook":
            hooks = vocab.PERSONAS[persona]["hooks"] if persona else GENERIC_HOOKS
            h, f = rng.randrange(len(hooks)), rng.randrange(len(HOOK_FRAMES))
            return HOOK_FRAMES[f].format(h=hooks[h]), f"hook.{persona or '-'}.{h}.{f}"
        if key == "subject":
            i = self._pick(rng, "subj", len(SUBJECT_TEMPLATES), mode)
            return SUBJECT_TEMPLATES[i].format(sub=subcategory, brand=brand), f"subj.{i}"
        if key == "scene":
            if persona and rng.random() < 0.75:
                scenes = vocab.PERSONAS[persona]["scenes"]
                i = rng.randrange(len(scenes))
                return scenes[i], f"scene.{persona}.{i}"
            i = self._pick(rng, "scene", len(SCENE_TEMPLATES), mode)
            return SCENE_TEMPLATES[i], f"scene.{i}"
        if key == "promo":
            i = self._pick(rng, "promo", len(PROMO_TEMPLATES), mode)
            return PROMO_TEMPLATES[i].format(v=promo_value), f"promo.{i}"
        if key == "cta":
            i = self._pick(rng, "cta", len(CTA_TEMPLATES), mode)
            return CTA_TEMPLATES[i], f"cta.{i}"
        if key == "banned":
            term = rng.choice(vocab.ABSOLUTE_TERMS)
            f = rng.randrange(len(BANNED_FRAMES))
            return BANNED_FRAMES[f].format(t=term), f"banned.{f}"
        raise KeyError(key)

    @staticmethod
    def _join(row: _Row) -> str:
        p = row.parts
        head = p.get("hook", "")
        body = p["body"]
        if "subject" in p:
            body = p["subject"] + "，" + body
        tail = [p[k] for k in ("banned", "scene", "promo", "cta") if k in p]
        return head + "，".join([body, *tail]) + p.get("end", "")


def _parse_attributes(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if value is None or (isinstance(value, float) and value != value):
        return {}
    return {str(k): str(v) for k, v in json.loads(value).items()}


def _combo_heldout(category: str, facts: dict[str, str], fraction: float, seed: int) -> bool:
    if fraction <= 0 or category not in COMBO_ATTRIBUTES:
        return False
    a, b = COMBO_ATTRIBUTES[category]
    if a not in facts or b not in facts:
        return False
    return _h("combo", seed, category, facts[a], facts[b]) % 10_000 < fraction * 10_000


def build_corpus(
    items: pd.DataFrame,
    personas: list[str | None] | None = None,
    per_pair: int = 1,
    seed: int = 0,
    corrupt_rate: float = 0.0,
    holdout_templates: float = 0.0,
) -> pd.DataFrame:
    """One reason per (item, persona, k < per_pair), with gold labels (see the module docstring).

    personas: default all 12; an entry None writes non-personalized rows (segment None).
    holdout_templates: about this share of rows is 'heldout' — half through held-out templates,
    half through held-out (category, attribute-pair) combinations.
    """
    personas = list(vocab.SEGMENTS) if personas is None else list(personas)
    unknown = [p for p in personas if p is not None and p not in vocab.PERSONAS]
    if unknown:
        raise ValueError(f"unknown persona {unknown[0]!r}; known: {', '.join(vocab.SEGMENTS)}")
    grammar = ReasonGrammar(seed=seed, holdout_templates=holdout_templates)
    half = holdout_templates / 2.0
    sub_col = items["subcategory"] if "subcategory" in items.columns else items["category"]
    records: list[tuple] = []
    for item_id, category, sub, brand, price, discount, attrs in zip(
        items["item_id"].astype(str), items["category"], sub_col, items["brand"], items["price"],
        items["discount"].fillna(0.0), items["attributes"], strict=True,
    ):
        facts = item_facts(price, discount, _parse_attributes(attrs))
        combo_held = _combo_heldout(category, facts, half, seed)
        top = {p: vocab.top_aspect(p, list(facts)) for p in personas if p is not None}
        for persona in personas:
            for k in range(per_pair):
                rng = random.Random(_h("row", seed, item_id, persona, k))
                length = rng.choice(("S", "M", "L"))
                tpl_held = half > 0 and rng.random() < half
                corruption = rng.choice(CORRUPTION_KINDS) if rng.random() < corrupt_rate else None
                mode = "heldout_force" if tpl_held else ("any" if combo_held else "train")
                out = None
                for bucket in (length, "M", "L", "S"):
                    out = grammar.write(rng, facts, category=category, subcategory=str(sub), brand=str(brand),
                                        persona=persona, length=bucket, mode=mode, corruption=corruption)
                    if out is not None:
                        length = bucket
                        break
                if out is None:
                    continue
                text, ids, mentions, has_promo = out
                mentioned = {a for a, _ in mentions}
                hit = persona is not None and top[persona] is not None and top[persona] in mentioned
                split = "heldout" if (combo_held or tpl_held) else "train"
                records.append((item_id, persona, length, text, "|".join(ids),
                                json.dumps(mentions, ensure_ascii=False), has_promo, hit, corruption, split))
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    df["mentions_promo"] = df["mentions_promo"].astype(bool)
    df["persona_aspect_hit"] = df["persona_aspect_hit"].astype(bool)
    df["corrupted"] = df["corrupted"].astype(object).where(df["corrupted"].notna(), None)
    return df


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Corpus-level distinct-n over character n-grams (whitespace removed): unique / total n-grams.

    The one implementation lives in abkit.text.diversity; this keeps 0.0 for no n-grams."""
    from abkit.text.diversity import diversity

    value = diversity(list(texts), ns=(n,))[f"distinct_{n}"]
    return value if value is not None else 0.0


def corpus_stats(df: pd.DataFrame) -> dict[str, Any]:
    """Size, distinct surfaces, distinct-1/2/3 (char n-grams, whitespace removed), shares."""
    texts = df["text"].tolist()
    return {
        "size": len(df),
        "distinct_surfaces": int(df["text"].nunique()),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "distinct_3": distinct_n(texts, 3),
        "mean_chars": float(df["text"].str.len().mean()) if len(df) else 0.0,
        "length_share": df["length"].value_counts(normalize=True).round(4).to_dict(),
        "corrupted_share": float(df["corrupted"].notna().mean()) if len(df) else 0.0,
        "heldout_share": float((df["split"] == "heldout").mean()) if len(df) else 0.0,
        "persona_aspect_hit": float(df["persona_aspect_hit"].mean()) if len(df) else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    """python -m generators.corpus --items 20000 --out corpus.parquet: build, write, print stats (JSON)."""
    import argparse

    from abkit.world.catalog import make_catalog

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-pair", type=int, default=1)
    ap.add_argument("--corrupt-rate", type=float, default=0.08)
    ap.add_argument("--holdout", type=float, default=0.1)
    ap.add_argument("--out", default=None, help="Parquet file for the corpus (the catalog goes beside it)")
    args = ap.parse_args(argv)
    items = make_catalog(args.items, seed=args.seed)
    df = build_corpus(items, per_pair=args.per_pair, seed=args.seed, corrupt_rate=args.corrupt_rate,
                      holdout_templates=args.holdout)
    if args.out:
        df.to_parquet(args.out, index=False)
        items.to_parquet(str(args.out).removesuffix(".parquet") + ".items.parquet", index=False)
    print(json.dumps(corpus_stats(df), ensure_ascii=False))


if __name__ == "__main__":
    main()
