"""Traffic simulator: users see arm-specific reasons, click, buy and refund — with known truth.

    world = build_world(spec, users_df, items_df, reasons_df, SimOptions(seed=1))
    for chunk in iter_chunks(world):               # bounded memory: one user chunk at a time
        exposures, events = chunk_tables(world, chunk)

The model, per user chunk and fully vectorized (numpy; no loop over rows):

- Assignment: the real assignment code (experiments.assign.assign_arms, GrowthBook hashing).
- Sessions: Poisson in the user's heavy-tailed activity; the day follows a day-of-week
  pattern (and a promotion-day spike) in the spec's time zone, the hour an evening-peaked
  curve; 1 + Poisson(2.5) exposures per session, seconds apart.
- Items: the persona's category affinity, then popularity within the category.
- Text: the arm's reason for (item, user segment), else (item, None), else a fallback text
  (the item title) with fallback=true and the **assigned** arm logged.
- Behaviour: P(click) = base × user propensity × item quality × affinity × day ×
  exp(text effect for this viewer's persona) (textfeatures.behaviour_effects); P(order |
  click), revenue = effective price × quantity, P(refund | order). Delays from
  truth.DelayModel (some actions land after the attribution windows).
- Organic events (pre-period history for CUPED and in-window noise) on items the experiment
  never recommends, so they are never attributed.
- Ground truth: the same probabilities evaluated for every arm (truth.TruthAccumulator).

Stress options (SimOptions): mode="aa", srm_bug, novelty, bots, late_events, duplicates,
clock_skew, promo_day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from abkit.errors import AbkitError
from abkit.schema import EVENT_TYPES as SCHEMA_EVENT_TYPES
from abkit.schema import LOG_TABLES
from abkit.spec import Spec
from experiments.simulate import textfeatures as tf
from experiments.simulate.truth import DelayModel, TruthAccumulator, attribution_probs
from experiments.simulate.users import Population, UserBlock, UserSource, codes, plan_population

US = 1_000_000  # microseconds per second

# --- behaviour constants (the simulator's world; sized so CTR ≈ 4–5 %, CVR ≈ 6–8 % of clicks) ---
BASE_CTR = 0.04
BASE_ORDER = 0.07  # P(order | click) before user, price and text factors
BASE_REFUND = 0.04
P_CART = 0.3
FAVOURITE_BOOST = 1.25  # CTR multiplier when the item's category is one the persona favours
SESSION_RATE = 0.2  # reason-slot sessions per user per day at mean activity
EXPOSURES_PER_SESSION = 2.5  # 1 + Poisson(this)
ORGANIC_CLICKS_PER_DAY = 0.3
ORGANIC_ORDERS_PER_DAY = 0.02
BOT_P_CLICK = 0.12
NOVELTY_AMPLITUDE, NOVELTY_DAYS = 1.0, 3.0
PROMO_TRAFFIC, PROMO_CTR, PROMO_ORDER, PROMO_TEXT = 3.0, 1.25, 1.6, 0.5
DOW_WEIGHT = np.array([0.95, 0.93, 0.96, 1.0, 1.06, 1.22, 1.15])  # Mon..Sun, local time
HOUR_WEIGHT = np.array([0.5, 0.3, 0.15, 0.1, 0.1, 0.15, 0.4, 0.8, 1.1, 1.0, 1.0, 1.2,
                        1.5, 1.3, 1.0, 1.0, 1.1, 1.2, 1.4, 1.7, 2.0, 2.2, 1.8, 1.0])
CLIENT_SKEW_SHARE = 0.1  # share of users whose client clock is off (with clock_skew)

FAVOURITES: dict[str, tuple[str, ...]] = {
    "价格敏感": ("食品", "家居", "服饰"), "追求时尚": ("服饰", "美妆"), "注重品质": ("家居", "服饰", "数码"),
    "宝妈": ("母婴", "食品", "家居"), "学生党": ("图书", "数码", "食品"), "上班族": ("服饰", "食品", "数码"),
    "健身爱好者": ("运动", "食品"), "银发族": ("家居", "食品", "图书"), "户外爱好者": ("运动", "服饰"),
    "颜值党": ("美妆", "服饰", "家居"), "科技发烧友": ("数码",), "养生派": ("食品", "家居"),
}


class SimulationError(AbkitError, ValueError):
    """A one-line problem with the simulator's input."""


@dataclass(frozen=True)
class SimOptions:
    seed: int = 0
    days: int | None = None  # default: the spec's window
    mode: str = "normal"  # "aa": every arm shows the control arm's texts
    srm_bug: float = 0.0  # share of the last arm's users lost entirely
    novelty: bool = False  # treatment text effects start doubled and decay (τ = 3 days)
    bots: int = 0  # bot users with thousands of exposures and random clicks
    late_events: float = 0.0  # share of events delivered in a later batch
    duplicates: float = 0.0  # share of exposure and event rows delivered twice
    clock_skew: float = 0.0  # seconds; ±skew on 10 % of users' client events (click, cart)
    promo_day: dt.date | None = None  # a 双11-style day: 3× traffic, more buying, weaker text effect
    chunk_users: int = 200_000
    effects: tf.Effects = field(default_factory=tf.Effects)
    delays: DelayModel = field(default_factory=DelayModel)

    def __post_init__(self) -> None:
        if self.mode not in ("normal", "aa"):
            raise SimulationError(f"--mode must be normal or aa, not {self.mode!r}")
        for name in ("srm_bug", "late_events", "duplicates"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise SimulationError(f"--{name.replace('_', '-')} must be in [0, 1), got {v}")
        if self.bots < 0 or self.clock_skew < 0 or self.chunk_users < 1:
            raise SimulationError("--bots and --clock-skew must be >= 0")
        if self.days is not None and self.days < 1:
            raise SimulationError("--days must be >= 1")


@dataclass
class World:
    """Everything the chunks share: users, candidate items, the text lookup, the calendar."""

    spec: Spec
    options: SimOptions
    arms: list[str]
    control: int
    population: Population  # the users, yielded in blocks (humans first, then bots)
    platforms: list[str]
    seg_names: list[str]
    # candidate items, sorted by category
    item_ids: pa.Array
    item_cat: np.ndarray
    item_quality: np.ndarray
    item_value: np.ndarray  # expected order value (effective price × E[quantity])
    item_eff_price: np.ndarray
    item_order_factor: np.ndarray
    item_keys: np.ndarray  # category code + within-category popularity CDF (for searchsorted)
    cat_names: list[str]
    aff_cdf: np.ndarray  # (P + 1, n_cat)
    aff_boost: np.ndarray  # (P + 1, n_cat)
    organic_ids: pa.Array
    organic_price: np.ndarray
    # texts: rows = reasons, then one fallback row per candidate item
    lookup: np.ndarray  # (n_arms, n_items, n_seg + 1) int32 row or -1
    row_reason_id: pa.Array
    ctr_eff: np.ndarray  # (rows, P + 1)
    cvr_eff: np.ndarray
    refund_mult: np.ndarray
    n_reason_rows: int
    # calendar
    day_start_us: np.ndarray  # (D + 1,) UTC µs of local midnights
    day_names: list[str]
    day_weight: np.ndarray
    day_ctr: np.ndarray
    day_order: np.ndarray
    day_text: np.ndarray
    day_novelty: np.ndarray
    window_us: tuple[int, int]
    lookback_us: int
    p_click_attr: float
    p_order_attr: float
    run_prefix: str

    @property
    def n_users(self) -> int:
        return self.population.n_users


# --- building the world ---------------------------------------------------------------------

def _utc_us(d: dt.date, tz: ZoneInfo) -> int:
    t = dt.datetime.combine(d, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    return int(t.timestamp()) * US


def _calendar(spec: Spec, opt: SimOptions) -> dict:
    tz = ZoneInfo(spec.timezone)
    n_days = opt.days or (spec.end - spec.start).days
    dates = [spec.start + dt.timedelta(days=i) for i in range(n_days + 1)]
    starts = np.array([_utc_us(d, tz) for d in dates], dtype=np.int64)
    dates = dates[:-1]
    weight = DOW_WEIGHT[[d.weekday() for d in dates]].astype(float)
    promo = np.array([d == opt.promo_day for d in dates])
    weight = np.where(promo, weight * PROMO_TRAFFIC, weight)
    day_idx = np.arange(n_days, dtype=float)
    novelty = 1.0 + (NOVELTY_AMPLITUDE * np.exp(-day_idx / NOVELTY_DAYS) if opt.novelty else 0.0)
    return {
        "day_start_us": starts, "day_names": [d.isoformat() for d in dates], "day_weight": weight,
        "day_ctr": np.where(promo, PROMO_CTR, 1.0), "day_order": np.where(promo, PROMO_ORDER, 1.0),
        "day_text": np.where(promo, PROMO_TEXT, 1.0), "day_novelty": novelty * np.ones(n_days),
    }


def build_world(spec: Spec, users: pd.DataFrame | UserSource, items: pd.DataFrame, reasons: pd.DataFrame | None,
                options: SimOptions = SimOptions(), *, assignment: np.ndarray | None = None) -> World:
    """Prepare a simulation: users (user_id, segment[, platform, activity]), the catalog, the reasons.

    ``users`` is a DataFrame or a UserSource (users read in chunks: the world never holds them all).
    ``reasons`` rows (reason_id, arm, item_id, segment, text[, created_at]) are the arms' texts;
    the candidate items are those with a reason (every item when there are none).
    ``assignment`` (arm name per user) overrides the assignment code (A/A re-randomization).
    """
    opt = options
    arms = spec.arm_names
    control = arms.index(spec.control_arm)
    rng = np.random.default_rng([opt.seed, 7])
    if (users.n if isinstance(users, UserSource) else len(users)) == 0:
        raise SimulationError("no users to simulate (the users table is empty and none were generated)")
    if items.empty:
        raise SimulationError("no items to recommend (the items table is empty and none were generated)")

    reasons = reasons if reasons is not None else pd.DataFrame(columns=["reason_id", "arm", "item_id", "segment", "text"])
    # users (+ bots): planned here, built block by block while simulating
    source = users if isinstance(users, UserSource) else UserSource.from_frame(users)
    population = plan_population(
        spec, source, {str(s) for s in reasons["segment"].dropna().unique()}, n_bots=opt.bots,
        bot_prefix=f"bot{opt.seed}_", srm_bug=opt.srm_bug, rng=rng, persona_index=tf.PERSONA_INDEX,
        n_personas=len(tf.PERSONAS), assignment=assignment)
    seg_names = population.seg_names

    # candidate items
    items = items.reset_index(drop=True)
    item_ids_all = items["item_id"].astype(str)
    has_reason = item_ids_all.isin(set(reasons["item_id"].astype(str))) if len(reasons) else pd.Series(True, index=items.index)
    cand = items[has_reason.to_numpy()]
    organic = items[~has_reason.to_numpy()]
    cat_names = sorted(cand["category"].astype(str).unique())
    cand = cand.assign(_cat=codes(cand["category"].astype(str), cat_names)).sort_values(["_cat", "item_id"], kind="stable")
    cand = cand.reset_index(drop=True)
    item_cat = cand["_cat"].to_numpy(np.int32)
    popularity = cand["popularity"].to_numpy(float) if "popularity" in cand else rng.lognormal(0, 1, len(cand))
    key = np.zeros(len(cand))
    for c in range(len(cat_names)):  # per category: a CDF in [0, 1), shifted by the category code
        m = item_cat == c
        w = np.cumsum(popularity[m])
        key[m] = c + np.concatenate([[0.0], w[:-1]]) / w[-1]
    quality = rng.lognormal(-0.045, 0.3, len(cand))
    price = cand["price"].to_numpy(float)
    discount = cand["discount"].fillna(0).to_numpy(float) if "discount" in cand else np.zeros(len(cand))
    eff_price = np.round(price * (1 - discount), 2)
    order_factor = np.clip((np.median(eff_price) / np.maximum(eff_price, 1.0)) ** 0.2, 0.5, 2.0)
    P = len(tf.PERSONAS)
    aff = np.ones((P + 1, len(cat_names)))
    boost = np.ones((P + 1, len(cat_names)))
    for p, name in enumerate(tf.PERSONAS):
        for c, cat in enumerate(cat_names):
            if cat in FAVOURITES.get(name, ()):
                aff[p, c], boost[p, c] = 4.0, FAVOURITE_BOOST
    aff_cdf = np.cumsum(aff / aff.sum(1, keepdims=True), axis=1)
    if len(organic):
        organic_ids, organic_price = organic["item_id"].astype(str), organic["price"].to_numpy(float)
    else:
        organic_ids = pd.Series([f"organic_{k:05d}" for k in range(1000)])
        organic_price = np.exp(rng.uniform(np.log(10), np.log(500), 1000))

    # texts
    lookup, rows = _text_rows(spec, cand, reasons, seg_names, arms, opt)
    n_reason_rows = len(rows)
    fb = pd.DataFrame({"reason_id": None, "item_id": cand["item_id"].astype(str),
                       "text": cand["title"].fillna("").astype(str) if "title" in cand else ""})
    rows = pd.concat([rows, fb], ignore_index=True)
    item_pos = pd.Series(np.arange(len(cand)), index=cand["item_id"].astype(str))
    row_item = item_pos.reindex(rows["item_id"].astype(str)).to_numpy()
    attrs = cand["attributes"].to_numpy() if "attributes" in cand else np.full(len(cand), "{}")
    feats = tf.text_features(rows["text"].tolist(), attrs[row_item], price[row_item], discount[row_item])
    eff = tf.behaviour_effects(feats, opt.effects)
    # a viewer's behaviour persona by segment code (segment index space -> persona space)
    cal = _calendar(spec, opt)
    start_us, end_us = (int(t.replace(tzinfo=dt.UTC).timestamp()) * US for t in spec.window_utc())
    pc, po = attribution_probs(opt.delays, spec.click_window, spec.order_window)
    return World(
        spec=spec, options=opt, arms=arms, control=control,
        population=population, platforms=population.platforms, seg_names=seg_names,
        item_ids=pa.array(cand["item_id"].astype(str).to_numpy(), type=pa.string()), item_cat=item_cat,
        item_quality=quality, item_value=eff_price * 1.25, item_eff_price=eff_price,
        item_order_factor=order_factor, item_keys=key, cat_names=cat_names, aff_cdf=aff_cdf, aff_boost=boost,
        organic_ids=pa.array(organic_ids.to_numpy(), type=pa.string()), organic_price=organic_price,
        lookup=lookup, row_reason_id=pa.array(rows["reason_id"].to_numpy(), type=pa.string()),
        ctr_eff=eff["ctr"], cvr_eff=eff["cvr"], refund_mult=eff["refund"], n_reason_rows=n_reason_rows,
        window_us=(start_us, end_us), lookback_us=int(spec.cuped_lookback.total_seconds()) * US,
        p_click_attr=pc, p_order_attr=po, run_prefix=f"{spec.key}-s{opt.seed}", **cal,
    )


def _text_rows(spec: Spec, cand: pd.DataFrame, reasons: pd.DataFrame, seg_names: list[str], arms: list[str],
               opt: SimOptions) -> tuple[np.ndarray, pd.DataFrame]:
    """The dense lookup (arm, item, segment|None) -> reason row, latest reason per key."""
    lookup = np.full((len(arms), len(cand), len(seg_names) + 1), -1, dtype=np.int32)
    if reasons.empty:
        return lookup, pd.DataFrame(columns=["reason_id", "item_id", "text"])
    r = reasons.copy()
    r["item_id"] = r["item_id"].astype(str)
    if "experiment" in r:
        r = r[r["experiment"].isna() | (r["experiment"] == spec.key)]
    r = r[r["arm"].isin(arms) & r["item_id"].isin(set(cand["item_id"].astype(str)))]
    if "created_at" in r:
        r = r.sort_values("created_at", kind="stable")
    r = r.assign(_seg=r["segment"].astype(object).where(r["segment"].notna(), None))
    r = r.drop_duplicates(["arm", "item_id", "_seg"], keep="last").reset_index(drop=True)
    item_pos = pd.Series(np.arange(len(cand)), index=cand["item_id"].astype(str))
    a = r["arm"].map({n: i for i, n in enumerate(arms)}).to_numpy(int)
    i = item_pos.reindex(r["item_id"]).to_numpy(int)
    s = codes(r["_seg"], seg_names)
    lookup[a, i, s] = np.arange(len(r), dtype=np.int32)
    if opt.mode == "aa":  # every arm shows what the control shows
        lookup[:] = lookup[spec.arm_names.index(spec.control_arm)]
    return lookup, r[["reason_id", "item_id", "text"]]


# --- one chunk of users -----------------------------------------------------------------------

@dataclass
class Chunk:
    """One chunk's draws. Exposure arrays share an index; event arrays point into them."""

    index: int
    users: np.ndarray  # global user indices of the chunk's logging (enrolled) users
    user_ids: pa.Array  # their ids, and below their arms and platforms (index: local)
    user_arm: np.ndarray
    user_platform: np.ndarray
    n_lost: int  # users of the block lost to the SRM bug
    # exposures
    x_user: np.ndarray  # global user index
    x_local: np.ndarray  # index into users
    x_item: np.ndarray
    x_ts: np.ndarray  # UTC µs
    x_day: np.ndarray
    x_arm: np.ndarray
    x_row: np.ndarray
    x_fallback: np.ndarray
    x_in_window: np.ndarray
    # behaviour
    c_exp: np.ndarray  # exposure of each click
    c_delay: np.ndarray  # seconds after the exposure
    c_cart: np.ndarray  # bool: the click led to an add-to-cart
    cart_delay: np.ndarray  # seconds after the click (for carts)
    o_click: np.ndarray  # click of each order
    o_delay: np.ndarray  # seconds after the click
    o_revenue: np.ndarray
    o_refund: np.ndarray  # bool
    refund_delay: np.ndarray  # seconds after the order (refunded orders)
    skew: np.ndarray  # seconds of client clock skew per chunk user (0 for most)
    # organic events: user, item (organic pool index), type code (0 click, 1 cart, 2 order), ts, revenue
    g_user: np.ndarray
    g_local: np.ndarray
    g_item: np.ndarray
    g_type: np.ndarray
    g_ts: np.ndarray
    g_revenue: np.ndarray
    truth: TruthAccumulator

    @property
    def n_events(self) -> int:
        return int(len(self.c_exp) + self.c_cart.sum() + len(self.o_click) + self.o_refund.sum() + len(self.g_user))


def _categorical(rng: np.random.Generator, cdf: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One draw per element of row from CDF row ``cdf[row]``: the number of CDF entries below a uniform
    (a searchsorted per distinct row, not an (n, k) comparison matrix)."""
    u = rng.random(len(row))
    out = np.empty(len(row), dtype=np.int64)
    order = np.argsort(row, kind="stable")
    bounds = np.searchsorted(row[order], np.arange(len(cdf) + 1))
    for r in range(len(cdf)):
        idx = order[bounds[r]:bounds[r + 1]]
        out[idx] = np.searchsorted(cdf[r], u[idx], side="left")
    return np.minimum(out, cdf.shape[1] - 1)


def _resolve(w: World, arm: np.ndarray | int, item: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text row shown for (arm, item, segment): segment text, else generic, else fallback."""
    n_seg = w.lookup.shape[2] - 1
    row = w.lookup[arm, item, seg]
    generic = w.lookup[arm, item, n_seg]
    row = np.where(row >= 0, row, generic)
    fallback = row < 0
    return np.where(fallback, w.n_reason_rows + item, row), fallback


def simulate_chunk(w: World, block: UserBlock, index: int, *, with_truth: bool = True) -> Chunk:
    """Draw sessions, exposures, behaviour, organic events (and the truth) for a block of users."""
    opt = w.options
    rng = np.random.default_rng([opt.seed, 11, index])
    logging = np.flatnonzero(block.arm >= 0)  # enrolled users that log (not lost to the SRM bug)
    users = block.start + logging
    n = len(users)
    bot = block.is_bot[logging]
    z = block.click[logging]
    cz = block.buy[logging]
    u_seg, u_persona, u_arm = block.seg[logging], block.persona[logging], block.arm[logging]
    n_days = len(w.day_names)
    p_day = w.day_weight / w.day_weight.sum()
    activity = block.activity[logging]
    lam = activity * SESSION_RATE * w.day_weight.sum()
    n_sess = np.where(bot, rng.integers(40, 100, n), rng.poisson(lam))
    s_user = np.repeat(np.arange(n), n_sess)
    S = len(s_user)
    s_day = np.minimum(np.searchsorted(np.cumsum(p_day), rng.random(S), side="right"), n_days - 1)
    p_hour = np.cumsum(HOUR_WEIGHT / HOUR_WEIGHT.sum())
    s_hour = np.minimum(np.searchsorted(p_hour, rng.random(S), side="right"), 23)
    s_start = w.day_start_us[s_day] + ((s_hour + rng.random(S)) * 3600 * US).astype(np.int64)
    s_n = np.where(bot[s_user], 50, 1 + rng.poisson(EXPOSURES_PER_SESSION, S))
    x_sess = np.repeat(np.arange(S), s_n)
    E = len(x_sess)
    gaps = rng.exponential(25.0, E)
    cs = np.cumsum(gaps)
    first = np.cumsum(s_n) - s_n
    offset = cs - np.repeat(cs[first] - gaps[first], s_n) if E else cs
    x_local = s_user[x_sess]
    x_ts = s_start[x_sess] + (offset * US).astype(np.int64)
    x_day = s_day[x_sess]
    x_user = users[x_local]
    seg = u_seg[x_local]
    persona = u_persona[x_local]
    cat = _categorical(rng, w.aff_cdf, persona)
    x_item = np.searchsorted(w.item_keys, cat + rng.random(E), side="right") - 1
    x_item = np.clip(x_item, 0, len(w.item_keys) - 1)
    x_arm = u_arm[x_local].astype(np.int64)
    x_bot = bot[x_local]
    x_in = (x_ts >= w.window_us[0]) & (x_ts < w.window_us[1])

    # probabilities for every arm (truth) — the realized arm's are picked below
    base_ctr = BASE_CTR * z[x_local] * w.item_quality[x_item] * w.aff_boost[persona, w.item_cat[x_item]] * w.day_ctr[x_day]
    base_ord = BASE_ORDER * cz[x_local] * w.item_order_factor[x_item] * w.day_order[x_day]
    truth = TruthAccumulator(w.arms, w.day_names, segments=list(w.seg_names))
    value = w.item_value[x_item]
    text_scale = w.day_text[x_day]
    novel = w.day_novelty[x_day] if opt.mode != "aa" and opt.novelty else None

    def probs(arm: np.ndarray | int) -> tuple[np.ndarray, ...]:
        row, fb = _resolve(w, arm, x_item, seg)
        scale = text_scale if novel is None else text_scale * np.where(arm != w.control, novel, 1.0)
        pc = np.where(x_bot, BOT_P_CLICK, np.minimum(base_ctr * np.exp(w.ctr_eff[row, persona] * scale), 0.95))
        po = np.where(x_bot, 0.0, np.minimum(base_ord * np.exp(w.cvr_eff[row, persona] * scale), 0.9))
        pr = np.minimum(BASE_REFUND * w.refund_mult[row], 0.9)
        return pc, po, pr, row, fb

    p_click, p_order, p_refund, x_row, x_fb = probs(x_arm)  # the realized arm's
    if with_truth:  # every arm on every exposure: expectations over in-window exposures
        has_in = np.bincount(x_local[x_in], minlength=n) > 0
        truth.sums["users"] += int(has_in.sum())
        truth.sums["exposures"] += int(x_in.sum())
        truth.day_exposures += np.bincount(x_day[x_in], minlength=n_days)
        seg_in = seg[x_in]
        seg_ok = (seg_in >= 0) & (seg_in < len(w.seg_names))
        truth.seg_exposures += np.bincount(seg_in[seg_ok], minlength=len(w.seg_names))
        attr_click = np.where(x_bot, 1.0, w.p_click_attr)
        for a in range(len(w.arms)):
            pc, po, pr, _row, _fb = probs(a)
            ec = (pc * attr_click)[x_in]
            eo = (pc * po * w.p_order_attr)[x_in]
            v, r = value[x_in], pr[x_in]
            truth.add_segments(a, seg_in, ec, eo)
            truth.add(a, clicks=float(ec.sum()), orders=float(eo.sum()), revenue=float((eo * v).sum()),
                      net_revenue=float((eo * v * (1 - r)).sum()), refunded_orders=float((eo * r).sum()))
            log_none = np.bincount(x_local[x_in], weights=np.log1p(-eo), minlength=n)
            truth.sums["converted"][a] += float((1.0 - np.exp(log_none[has_in])).sum())
            truth.day_clicks[a] += np.bincount(x_day[x_in], weights=ec, minlength=n_days)

    # behaviour draws for the realized arm
    c_exp = np.flatnonzero(rng.random(E) < p_click)
    k = len(c_exp)
    c_delay = np.where(x_bot[c_exp], rng.uniform(1.0, 3.0, k), opt.delays.sample_click(rng, k))
    c_cart = ~x_bot[c_exp] & (rng.random(k) < P_CART)
    cart_delay = rng.lognormal(math.log(60.0), 1.0, k)
    o_click = np.flatnonzero(rng.random(k) < p_order[c_exp])
    m = len(o_click)
    o_delay = opt.delays.sample_order(rng, m)
    qty = 1 + rng.poisson(0.25, m)
    o_revenue = np.round(w.item_eff_price[x_item[c_exp[o_click]]] * qty, 2)
    o_refund = rng.random(m) < p_refund[c_exp[o_click]]
    refund_delay = rng.uniform(1, 10, m) * 86400.0
    skew = np.zeros(n)
    if opt.clock_skew > 0:
        skewed = rng.random(n) < CLIENT_SKEW_SHARE
        skew[skewed] = rng.uniform(-opt.clock_skew, opt.clock_skew, int(skewed.sum()))

    # organic activity: pre-period history (CUPED) and in-window noise, never attributed
    # (new users' history starts at the experiment's start)
    g_hi = w.day_start_us[-1]
    g_lo = np.where(block.history[logging], w.day_start_us[0] - w.lookback_us - 86400 * US, w.day_start_us[0])
    g_days = (g_hi - g_lo) / (86400 * US)
    act = activity * ~bot * g_days
    n_gc = rng.poisson(act * z * ORGANIC_CLICKS_PER_DAY)
    n_go = rng.poisson(act * z * cz * ORGANIC_ORDERS_PER_DAY)
    g_user = np.concatenate([np.repeat(np.arange(n), n_gc), np.repeat(np.arange(n), n_go)])
    g_type = np.concatenate([np.zeros(n_gc.sum(), np.int8), np.full(n_go.sum(), 2, np.int8)])
    G = len(g_user)
    g_ts = g_lo[g_user] + (rng.random(G) * (g_hi - g_lo[g_user])).astype(np.int64)
    g_item = rng.integers(0, len(w.organic_ids), G)
    g_revenue = np.where(g_type == 2, np.round(w.organic_price[g_item] * (1 + rng.poisson(0.25, G)), 2), np.nan)
    return Chunk(index, users, block.ids.take(pa.array(logging, type=pa.int64())), u_arm, block.platform[logging],
                 int((block.arm == -2).sum()), x_user, x_local, x_item, x_ts, x_day, x_arm.astype(np.int8), x_row, x_fb, x_in,
                 c_exp, c_delay, c_cart, cart_delay, o_click, o_delay, o_revenue, o_refund, refund_delay, skew,
                 users[g_user], g_user, g_item, g_type, g_ts, g_revenue, truth)


def iter_chunks(w: World) -> Iterator[Chunk]:
    """Chunks of ``options.chunk_users`` users (humans, then bots): bounded memory."""
    for index, block in enumerate(w.population.blocks(w.options.chunk_users)):
        yield simulate_chunk(w, block, index)


# --- per-user aggregates (own-exposure attribution; the sufficient-statistics path) ------------

def user_outcomes(w: World, ch: Chunk) -> pd.DataFrame:
    """Per analysis user of the chunk: arm, exposures, attributed clicks/orders/revenue, pre-period.

    Attribution is to the exposure that caused the action (delay within the window); the SQL
    of the analysis attributes to *any* exposure of (user, item), which differs only when a
    user saw one item twice and a late action of the first exposure falls in the second's window.
    """
    cw, ow = w.spec.click_window.total_seconds(), w.spec.order_window.total_seconds()
    xin = ch.x_in_window
    local = ch.x_local
    m = len(ch.users)
    exposures = np.bincount(local[xin], minlength=m)
    click_ok = xin[ch.c_exp] & (ch.c_delay <= cw)
    clicks = np.bincount(local[ch.c_exp[click_ok]], minlength=m)
    oc = ch.c_exp[ch.o_click]
    order_ok = xin[oc] & (ch.c_delay[ch.o_click] + ch.o_delay <= ow)
    orders = np.bincount(local[oc[order_ok]], minlength=m)
    revenue = np.bincount(local[oc[order_ok]], weights=ch.o_revenue[order_ok], minlength=m)
    refunded = np.bincount(local[oc[order_ok]], weights=ch.o_revenue[order_ok] * ch.o_refund[order_ok], minlength=m)
    first = np.full(m, np.iinfo(np.int64).max)
    np.minimum.at(first, local[xin], ch.x_ts[xin])
    g_local = ch.g_local
    g_first = first[g_local]
    pre = (ch.g_ts < g_first) & (ch.g_ts >= g_first - w.lookback_us)
    pre_clicks = np.bincount(g_local[pre & (ch.g_type == 0)], minlength=m)
    pre_orders = np.bincount(g_local[pre & (ch.g_type == 2)], minlength=m)
    pre_revenue = np.bincount(g_local[pre & (ch.g_type == 2)], weights=np.nan_to_num(ch.g_revenue[pre & (ch.g_type == 2)]),
                              minlength=m)
    keep = exposures > 0
    return pd.DataFrame({
        "user": ch.users[keep], "arm": ch.user_arm[keep], "exposures": exposures[keep],
        "clicks": clicks[keep], "orders": orders[keep], "revenue": revenue[keep],
        "net_revenue": (revenue - refunded)[keep], "converted": (orders > 0)[keep].astype(int),
        "pre_clicks": pre_clicks[keep], "pre_orders": pre_orders[keep], "pre_revenue": pre_revenue[keep],
        "pre_converted": (pre_orders > 0)[keep].astype(int),
    })


# --- Arrow tables in the contract schemas -------------------------------------------------------

EXPOSURE_SCHEMA = LOG_TABLES["exposures"].arrow_schema(("platform", pa.string()))
EVENT_SCHEMA = LOG_TABLES["events"].arrow_schema()
EVENT_TYPES = np.array(SCHEMA_EVENT_TYPES, dtype=object)  # codes 0..3 below index this order


def _ids(prefix: str, n: int | np.ndarray) -> pa.Array:
    """prefix + number, for 0..n-1 (or the given numbers)."""
    numbers = np.arange(n) if isinstance(n, int) else n
    return pc.binary_join_element_wise(pa.scalar(prefix), pc.cast(pa.array(numbers), pa.string()), "")


def _take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    return arr.take(pa.array(idx, type=pa.int64()))


def chunk_tables(w: World, ch: Chunk, *, arm_labels: list[str] | None = None,
                 user_prefix: str | None = None) -> tuple[pa.Table, pa.Table]:
    """(exposures, events) of a chunk, in docs/interface.md, Data columns (+ platform on exposures).

    ``arm_labels``/``user_prefix`` relabel arms and user ids (the A/A runner's run column).
    """
    prefix = f"{w.run_prefix}-c{ch.index}-"
    user_ids = ch.user_ids
    if user_prefix is not None:
        user_ids = pc.binary_join_element_wise(pa.scalar(user_prefix), user_ids, "")
    arms = pa.array(arm_labels or w.arms, type=pa.string())
    plat_names = pa.array(w.platforms + [None], type=pa.string())
    plat = ch.user_platform[ch.x_local]
    exposures = pa.table({
        "event_id": _ids(prefix + "x", len(ch.x_ts)),
        "ts": pa.array(ch.x_ts, type=pa.timestamp("us")),
        "experiment": pa.repeat(pa.scalar(w.spec.key, pa.string()), len(ch.x_ts)),
        "user_id": _take(user_ids, ch.x_local),
        "item_id": _take(w.item_ids, ch.x_item),
        "arm": _take(arms, ch.x_arm.astype(np.int64)),
        "reason_id": _take(w.row_reason_id, ch.x_row),
        "fallback": pa.array(ch.x_fallback),
        "platform": _take(plat_names, np.where(plat >= 0, plat, len(w.platforms))),
    }, schema=EXPOSURE_SCHEMA)

    local = ch.x_local
    skew_us = (ch.skew * US).astype(np.int64)
    click_ts = ch.x_ts[ch.c_exp] + (ch.c_delay * US).astype(np.int64)
    cart_i = np.flatnonzero(ch.c_cart)
    cart_ts = click_ts[cart_i] + (ch.cart_delay[cart_i] * US).astype(np.int64)
    order_ts = click_ts[ch.o_click] + (ch.o_delay * US).astype(np.int64)
    ref_i = np.flatnonzero(ch.o_refund)
    refund_ts = order_ts[ref_i] + (ch.refund_delay[ref_i] * US).astype(np.int64)
    c_user = ch.x_local[ch.c_exp]
    c_item = ch.x_item[ch.c_exp]
    client_skew = skew_us[local[ch.c_exp]]
    n_c, n_k, n_o, n_r = len(click_ts), len(cart_i), len(order_ts), len(ref_i)
    order_ids = _ids(prefix + "o", n_o)
    exp_user = np.concatenate([c_user, c_user[cart_i], c_user[ch.o_click], c_user[ch.o_click[ref_i]]])
    exp_item = np.concatenate([c_item, c_item[cart_i], c_item[ch.o_click], c_item[ch.o_click[ref_i]]])
    exp_ts = np.concatenate([click_ts + client_skew, cart_ts + client_skew[cart_i], order_ts, refund_ts])
    exp_type = np.concatenate([np.zeros(n_c, np.int64), np.ones(n_k, np.int64), np.full(n_o, 2), np.full(n_r, 3)])
    exp_rev = np.concatenate([np.full(n_c + n_k, np.nan), ch.o_revenue, ch.o_revenue[ref_i]])
    n_x = len(exp_ts)
    G = len(ch.g_user)
    g_orders = np.flatnonzero(ch.g_type == 2)  # ids "go<index among organic events>" for the orders only
    g_pos = np.full(G, -1, dtype=np.int64)
    g_pos[g_orders] = np.arange(len(g_orders))
    g_order_ids = _ids(prefix + "go", g_orders).take(pa.array(g_pos, mask=g_pos < 0))
    types = pa.array(EVENT_TYPES, type=pa.string())
    events = pa.table({
        "event_id": pa.concat_arrays([_ids(prefix + "e", n_x).cast(pa.string()), _ids(prefix + "g", G).cast(pa.string())]),
        "ts": pa.array(np.concatenate([exp_ts, ch.g_ts]), type=pa.timestamp("us")),
        "user_id": pa.concat_arrays([_take(user_ids, exp_user), _take(user_ids, ch.g_local)]),
        "item_id": pa.concat_arrays([_take(w.item_ids, exp_item), _take(w.organic_ids, ch.g_item)]),
        "type": _take(types, np.concatenate([exp_type, ch.g_type.astype(np.int64)])),
        "revenue": pa.array(np.concatenate([exp_rev, ch.g_revenue]), type=pa.float64(), from_pandas=True),
        "order_id": pa.concat_arrays([
            pa.nulls(n_c + n_k, pa.string()), order_ids.cast(pa.string()), _take(order_ids, ref_i).cast(pa.string()),
            g_order_ids.cast(pa.string())]),
    }, schema=EVENT_SCHEMA)
    return exposures, events
