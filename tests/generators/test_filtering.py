"""The candidate filter (generators.filtering): compliance, faithfulness, form, deterministic choice."""

import pytest

from generators.base import ReasonRequest
from generators.filtering import CandidateFilter


@pytest.fixture(scope="module")
def filt():
    return CandidateFilter()


REQ = ReasonRequest("i1", "服饰", "澜屿", "澜屿 纯棉连衣裙", 199.0, 0.0,
                    {"材质": "纯棉", "季节": "夏季", "促销": "满199减30"}, "学生党", "M")


def test_checks_each_problem(filt):
    good = filt.check("纯棉材质，夏季穿正合适，现在满199减30", REQ, length="M", segment="学生党")
    assert good.passed and good.persona_hit is False  # 学生党's top aspect is 价格, not mentioned
    assert filt.check("纯棉材质，夏季穿正合适，到手199元", REQ, length="M", segment="学生党").persona_hit
    assert filt.check("最好的纯棉连衣裙，夏季穿正合适", REQ, length="M").banned
    assert filt.check("真丝面料，夏季穿正合适，现在满199减30", REQ, length="M").contradicted
    assert filt.check("纯棉材质很很舒服，夏季穿正合适", REQ, length="M").stutter
    assert not filt.check("宝宝用着更安心，纯棉材质，夏季穿正合适", REQ, length="M").stutter
    assert not filt.check("纯棉材质，夏季穿正合适，现在满199减30", REQ, length="M", complete=False).passed
    assert not filt.check("纯棉材质", REQ, length="L").in_bucket
    assert filt.check("最近上新的纯棉连衣裙，夏季穿正合适", REQ, length="M").passed  # allowlisted 最近


def test_choice_is_the_first_best_candidate(filt):
    cands = ["真丝面料，夏季穿正合适，现在满199减30", "纯棉材质，夏季穿正合适，现在满199减30",
             "纯棉材质，夏季穿正合适，今天满199减30"]
    best, checks = filt.choose(cands, REQ, length="M")
    assert best == 1 and not checks[0].passed and checks[1].passed and checks[2].passed
    best, _ = filt.choose(cands[::-1], REQ, length="M")
    assert best == 0
