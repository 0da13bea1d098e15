"""ReasonService in-process: assignment equal to `abkit assign`'s, the text lookup and its
fallbacks, the window, lifecycle states, and what gets logged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from abkit.spec import Spec, parse_spec
from experiments.assign import assign_arms
from generators.base import ReasonRequest
from generators.template import TemplateGenerator
from serving.assignment import Assigner
from serving.exposure_log import ExposureLog
from serving.service import ReasonService
from serving.snapshot import ExperimentSnapshot, ItemFacts, ReasonRow, Snapshot

BASE = {"key": "e1", "arms": [{"name": "control", "weight": 0.1}, {"name": "b", "weight": 0.2},
                              {"name": "c", "weight": 0.7}],
        "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "ctr"}
NOW = dt.datetime(2026, 11, 3, tzinfo=dt.UTC).timestamp()


def ids() -> list[str]:
    rng = np.random.default_rng(7)
    out = [f"u{k}" for k in rng.integers(0, 10**9, 6000)]
    return out + [f"用户{k}" for k in range(500)] + [f"😀{k}" for k in range(500)] + ["", "a\x00b"]


@pytest.mark.parametrize("extra", [{}, {"coverage": 0.3}, {"holdout": 0.1}, {"hash_version": 1, "coverage": 0.5},
                                   {"namespace": {"name": "ns", "range": [0.2, 0.7]}}, {"hash_seed": "种子"}])
@pytest.mark.parametrize("use_c", [True, False])
def test_assigner_equals_the_vectorized_assign(extra: dict, use_c: bool) -> None:
    spec = parse_spec({**BASE, **extra})
    users = ids()
    a = Assigner(spec, use_c=use_c)
    assert [a.arm(u) for u in users] == assign_arms(users, spec).tolist()


FACTS = ItemFacts("服饰", "牌子", "纯棉T恤", 99.0, 0.2, '{"材质": "纯棉"}')


def snapshot(spec: Spec, state: str | None = None) -> Snapshot:
    reasons = [ReasonRow(arm, "seg_item", "学生党", f"r_{arm}_s", f"{arm} 学生党") for arm in spec.arm_names]
    reasons += [ReasonRow(arm, "plain_item", None, f"r_{arm}_p", f"{arm} 通用") for arm in spec.arm_names]
    return Snapshot([ExperimentSnapshot(spec, None, state, reasons)],
                    {"seg_item": FACTS, "plain_item": FACTS, "bare_item": FACTS})


def test_texts_and_fallback_reasons() -> None:
    spec = parse_spec(BASE)
    service = ReasonService(snapshot(spec))
    template = TemplateGenerator.write(ReasonRequest("bare_item", "服饰", "牌子", "纯棉T恤", 99.0, 0.2,
                                                     {"材质": "纯棉"}))[0]
    page = ["seg_item", "plain_item", "bare_item", "ghost"]
    for segment, seg_why in (("学生党", None), ("宝妈", "segment_unknown"), (None, "no_segment")):
        [res] = service.reasons("u1", page, {"segment": segment} if segment else {}, now=NOW)
        arm = res.arm
        assert arm == Assigner(spec).arm("u1")
        seg, plain, bare, ghost = res.items
        if seg_why is None:
            assert (seg.text, seg.reason_id, seg.fallback) == (f"{arm} 学生党", f"r_{arm}_s", False)
        else:
            assert seg.fallback and seg.why == seg_why and seg.text == template and seg.reason_id is None
        assert (plain.text, plain.fallback) == (f"{arm} 通用", False)  # the segment-free reason serves all
        assert (bare.why, bare.text, bare.fallback) == ("no_reason", template, True)
        assert (ghost.why, ghost.text) == ("item_unknown", None)


def test_not_enrolled_users_get_the_control_texts_and_no_row(tmp_path: Path) -> None:
    spec = parse_spec({**BASE, "coverage": 0.2})
    log = ExposureLog(tmp_path, flush_ms=10)
    service = ReasonService(snapshot(spec), log=log)
    outside = next(u for u in ids() if u and Assigner(spec).arm(u) is None)
    inside = next(u for u in ids() if Assigner(spec).arm(u) is not None)
    [res] = service.reasons(outside, ["plain_item"], now=NOW)
    assert res.arm is None and res.items[0].text == "control 通用"
    assert log.stats.enqueued == 0
    service.reasons(inside, ["plain_item", "bare_item"], now=NOW)
    assert log.stats.enqueued == 2
    log.close()
    assert log.stats.flushed == 2 and service.fallback_counts == {"no_reason": 1}


def test_only_inside_the_window_and_not_after_a_stop() -> None:
    spec = parse_spec(BASE)
    service = ReasonService(snapshot(spec))
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()
    end = dt.datetime(2026, 11, 8, tzinfo=dt.UTC).timestamp()
    assert service.reasons("u1", ["plain_item"], now=start - 1) == []
    assert len(service.reasons("u1", ["plain_item"], now=start)) == 1
    assert service.reasons("u1", ["plain_item"], now=end) == []  # end is exclusive
    tz = parse_spec({**BASE, "timezone": "Asia/Shanghai"})  # the window is local midnight
    assert ReasonService(snapshot(tz)).reasons("u1", ["plain_item"], now=start - 3600) != []
    for state in ("stopped", "shipped", "rolled_back"):
        assert ReasonService(snapshot(spec, state)).reasons("u1", ["plain_item"], now=NOW) == []


def test_unknown_segments_and_items_do_not_grow_the_index() -> None:
    spec = parse_spec(BASE)
    service = ReasonService(snapshot(spec))
    for k in range(300):
        service.reasons(f"u{k}", [f"ghost{k}"], {"segment": f"seg{k}"}, now=NOW)
    exp = service._state[0][0]
    assert len(exp.views) <= len(spec.arms)  # one shared view for every unknown segment, per arm
    exp.MAX_FALLBACKS = 50
    for k in range(300):
        service.reasons("u1", [f"more{k}"], now=NOW)
    assert exp.n_fallbacks <= 50


def test_render_confirmed_tokens_log_once_and_expire(tmp_path: Path) -> None:
    spec = parse_spec(BASE)
    log = ExposureLog(tmp_path, flush_ms=10)
    service = ReasonService(snapshot(spec), log=log, confirm_ttl_s=60)
    [res] = service.reasons("u1", ["plain_item", "seg_item", "bare_item"], now=NOW, confirm=True)
    assert res.tokens is not None and len(set(res.tokens)) == 3 and log.stats.enqueued == 0
    assert service.confirm([res.tokens[0], res.tokens[0], "forged"], now=NOW + 1) == (1, 2)
    assert service.confirm([res.tokens[0]], now=NOW + 2) == (0, 1)  # logged once only
    assert service.confirm([res.tokens[1]], now=NOW + 61) == (0, 1)  # expired
    assert service.expired_tokens == 2
    log.close()
    [row] = [json.loads(ln) for p in tmp_path.glob("*.jsonl") for ln in p.read_text().splitlines()]
    assert row["event_id"] == res.tokens[0] and row["item_id"] == "plain_item" and row["arm"] == res.arm
