"""The synthetic world's vocabulary: categories, typed attributes, personas, promotions, brands.

Pure data plus a few tiny helpers; imports nothing heavy (no numpy, pandas, keras), so the
catalog, the reason grammar, the text metrics and the neural tokenizer can all share it.
The lists are our own (docs/text.md); brands are invented, no real trademarks.

Attribute values are complete surface strings ("10000mAh", "纯棉", "4.8分") so that a
reason can copy them verbatim and a checker can find them by exact match.
"""

from __future__ import annotations

from typing import Any

from abkit.text.lengths import LENGTH_BUCKETS, length_bucket  # noqa: F401  (re-exported: one definition, in abkit.text)

# --------------------------------------------------------------------------------------------
# Attributes shared by every category (values are verbatim surfaces)
# --------------------------------------------------------------------------------------------

SHARED_ATTRIBUTES: dict[str, list[str]] = {
    "评分": ["4.6分", "4.7分", "4.8分", "4.9分"],
    "好评率": ["95%好评", "96%好评", "97%好评", "98%好评", "99%好评"],
    "月销": ["月销300+", "月销800+", "月销2000+", "月销5000+", "月销1万+", "月销3万+", "月销10万+"],
    "发货": ["24小时发货", "48小时发货", "顺丰包邮", "当日发货", "次日达"],
    "售后": ["七天无理由", "运费险", "一年质保", "破损包赔", "假一赔十"],
}

# Pseudo-attributes derived from the item row, not stored under attributes in the catalog JSON
# (价格 from price × (1 − discount); 促销 is stored when the item has a promotion).
PRICE_ATTRIBUTE = "价格"
PROMO_ATTRIBUTE = "促销"

# --------------------------------------------------------------------------------------------
# Categories: sub-categories, typed attributes (category defaults, per-sub-category overrides),
# price bands (yuan, list price)
# --------------------------------------------------------------------------------------------

CATEGORIES: dict[str, dict[str, Any]] = {
    "服饰": {
        "subcategories": ["连衣裙", "T恤", "卫衣", "衬衫", "羽绒服", "牛仔裤", "针织开衫", "西装外套"],
        "price_band": (39.0, 899.0),
        "attributes": {
            "材质": ["纯棉", "真丝", "羊毛", "亚麻", "莫代尔", "天丝", "聚酯纤维"],
            "风格": ["简约", "通勤", "法式", "复古", "韩系", "国潮", "街头", "休闲"],
            "季节": ["春季", "夏季", "秋季", "冬季", "四季"],
            "版型": ["宽松", "修身", "直筒", "A字", "oversize"],
            "卖点": ["透气", "抗皱", "显瘦", "保暖", "垂感好", "不起球"],
            "颜色": ["黑色", "白色", "燕麦色", "雾霾蓝", "酒红色"],
            "尺码": ["S-XL", "M-XXL", "S-XXL", "均码"],
        },
        "sub_attributes": {
            "羽绒服": {"材质": ["90%白鸭绒", "90%白鹅绒", "80%白鸭绒"], "季节": ["冬季"], "卖点": ["保暖", "轻薄", "防风"]},
            "连衣裙": {"季节": ["春季", "夏季", "秋季"]},
            "牛仔裤": {"材质": ["纯棉", "弹力棉"], "版型": ["直筒", "修身", "宽松", "阔腿"]},
        },
    },
    "美妆": {
        "subcategories": ["面霜", "精华", "口红", "粉底液", "防晒", "面膜", "洁面"],
        "price_band": (29.0, 699.0),
        "attributes": {
            "肤质": ["干皮", "油皮", "混合皮", "敏感肌", "各种肤质"],
            "功效": ["补水保湿", "提亮", "控油", "修护屏障", "紧致"],
            "成分": ["玻尿酸", "烟酰胺", "神经酰胺", "积雪草", "维C"],
            "质地": ["清爽", "滋润", "啫喱", "乳霜", "水润"],
            "规格": ["30ml", "50ml", "100ml"],
        },
        "sub_attributes": {
            "口红": {"功效": ["持妆", "显白", "滋润不拔干"], "质地": ["丝绒哑光", "水润", "镜面"], "规格": ["3.5g", "3g"],
                   "成分": ["植物油脂", "维E"]},
            "粉底液": {"功效": ["持妆", "遮瑕", "控油"], "规格": ["30ml", "40ml"]},
            "防晒": {"功效": ["SPF50+", "清爽不油", "防水防汗"], "规格": ["40ml", "50ml", "60ml"]},
            "面膜": {"规格": ["5片装", "10片装", "20片装"]},
        },
    },
    "数码": {
        "subcategories": ["蓝牙耳机", "充电宝", "智能手表", "平板", "机械键盘", "手机壳"],
        "price_band": (29.0, 3999.0),
        "attributes": {
            "规格": ["Type-C", "蓝牙5.3"],
            "卖点": ["轻薄", "多设备切换", "低延迟"],
        },
        "sub_attributes": {
            "蓝牙耳机": {"规格": ["续航30小时", "续航40小时", "蓝牙5.3", "IPX4"], "卖点": ["主动降噪", "低延迟", "多设备切换", "轻薄"]},
            "充电宝": {"规格": ["10000mAh", "20000mAh", "快充20W", "快充65W"], "卖点": ["轻薄", "多口输出", "自带线"]},
            "智能手表": {"规格": ["IP68", "续航14天", "1.43英寸AMOLED"], "卖点": ["心率血氧监测", "睡眠监测", "NFC支付"]},
            "平板": {"规格": ["128G", "256G", "11英寸", "快充65W"], "卖点": ["轻薄", "护眼屏", "多设备切换"]},
            "机械键盘": {"规格": ["87键", "104键", "三模连接", "Type-C"], "卖点": ["热插拔", "低延迟", "静音"]},
            "手机壳": {"规格": ["6.1英寸", "6.7英寸"], "卖点": ["防摔", "轻薄", "磁吸"]},
        },
    },
    "食品": {
        "subcategories": ["坚果", "咖啡", "牛奶", "零食", "茶叶", "速食", "蜂蜜"],
        "price_band": (9.9, 299.0),
        "attributes": {
            "产地": ["云南", "新疆", "内蒙古", "安溪", "东北"],
            "口味": ["原味", "香脆", "浓郁", "微甜", "麻辣"],
            "规格": ["净含量500g", "独立小包装", "保质期12个月", "净含量1kg"],
            "标签": ["0蔗糖", "低脂", "高蛋白", "非油炸"],
            "储存": ["常温", "冷藏"],
            "场景": ["办公室零食", "早餐", "下午茶"],
        },
        "sub_attributes": {
            "咖啡": {"产地": ["云南", "海南"], "口味": ["浓郁", "微酸", "醇香"], "规格": ["30杯装", "净含量500g"]},
            "牛奶": {"产地": ["内蒙古", "新疆"], "口味": ["原味", "醇香"], "规格": ["250ml×12盒", "250ml×24盒"], "标签": ["高蛋白", "低脂", "高钙"]},
            "茶叶": {"产地": ["安溪", "云南", "杭州"], "口味": ["清香", "浓香", "回甘"], "规格": ["净含量250g", "净含量500g"]},
            "蜂蜜": {"产地": ["东北", "新疆", "云南"], "口味": ["原味", "微甜"], "规格": ["净含量500g", "净含量1kg"], "标签": ["0添加", "天然成熟"]},
        },
    },
    "家居": {
        "subcategories": ["四件套", "枕头", "收纳箱", "保温杯", "香薰", "拖把", "餐具"],
        "price_band": (19.9, 999.0),
        "attributes": {
            "材质": ["全棉", "天丝", "304不锈钢", "实木", "硅胶", "PP"],
            "风格": ["北欧", "日式", "简约", "奶油风"],
            "规格": ["3层", "大号", "中号"],
            "卖点": ["易清洗", "可折叠", "静音", "大容量", "防滑"],
        },
        "sub_attributes": {
            "四件套": {"材质": ["全棉", "天丝", "长绒棉"], "规格": ["1.5m床", "1.8m床"], "卖点": ["亲肤", "不起球", "易清洗"]},
            "保温杯": {"材质": ["304不锈钢", "316不锈钢"], "规格": ["500ml", "350ml", "750ml"], "卖点": ["锁温12小时", "大容量", "防漏"]},
            "枕头": {"材质": ["乳胶", "记忆棉", "全棉"], "卖点": ["护颈", "回弹", "透气"]},
        },
    },
    "母婴": {
        "subcategories": ["纸尿裤", "婴儿推车", "奶瓶", "餐椅", "湿巾", "辅食", "安抚玩具"],
        "price_band": (19.9, 1999.0),
        "attributes": {
            "月龄": ["0-6月", "6-12月", "1-3岁"],
            "材质": ["PPSU", "食品级硅胶", "无荧光剂"],
            "尺码": ["NB", "S", "M", "L", "XL"],
            "卖点": ["超薄透气", "防胀气", "一键收车", "轻便可折叠", "宽口易清洗"],
        },
        "sub_attributes": {
            "纸尿裤": {"材质": ["无荧光剂", "柔棉表层"], "卖点": ["超薄透气", "干爽不闷", "防侧漏"]},
            "婴儿推车": {"材质": ["铝合金车架", "高碳钢车架"], "卖点": ["一键收车", "轻便可折叠", "可坐可躺"], "尺码": ["标准款", "轻便款"]},
            "奶瓶": {"材质": ["PPSU", "玻璃", "食品级硅胶"], "卖点": ["防胀气", "宽口易清洗"], "规格": ["160ml", "240ml", "300ml"]},
            "湿巾": {"材质": ["无荧光剂", "纯水配方"], "规格": ["80抽×5包", "80抽×10包"], "卖点": ["加厚", "温和"]},
        },
    },
    "运动": {
        "subcategories": ["跑鞋", "瑜伽垫", "哑铃", "速干T恤", "运动背包", "骑行头盔", "跳绳"],
        "price_band": (19.9, 1299.0),
        "attributes": {
            "材质": ["TPE", "EVA", "氯丁橡胶", "速干面料"],
            "规格": ["6mm厚", "8mm厚", "5kg", "20L"],
            "场景": ["跑步", "健身房", "居家训练", "户外徒步", "瑜伽练习"],
            "卖点": ["缓震", "回弹", "防滑", "轻量", "透气", "可调节"],
        },
        "sub_attributes": {
            "跑鞋": {"材质": ["EVA", "网面"], "规格": ["36-45码"], "场景": ["跑步", "健身房", "户外徒步"], "卖点": ["缓震", "回弹", "轻量", "透气"]},
            "瑜伽垫": {"材质": ["TPE", "NBR", "天然橡胶"], "规格": ["6mm厚", "8mm厚", "10mm厚"], "场景": ["瑜伽练习", "居家训练"]},
            "哑铃": {"材质": ["氯丁橡胶", "铸铁"], "规格": ["5kg", "10kg", "20kg"], "场景": ["居家训练", "健身房"], "卖点": ["可调节", "防滑"]},
            "运动背包": {"规格": ["20L", "30L", "40L"], "场景": ["户外徒步", "健身房"], "卖点": ["防泼水", "轻量", "大容量"]},
        },
    },
    "图书": {
        "subcategories": ["小说", "童书", "经管", "考试教辅", "历史", "科普", "绘本"],
        "price_band": (9.9, 299.0),
        "attributes": {
            "装帧": ["平装", "精装", "套装"],
            "读者": ["儿童", "青少年", "考研党", "职场新人", "大众读者"],
            "卖点": ["名家译本", "彩色插图", "附赠音频", "大字版", "真题解析"],
            "页数": ["192页", "256页", "320页", "480页", "640页"],
        },
        "sub_attributes": {
            "考试教辅": {"读者": ["考研党", "高中生", "职场新人"], "卖点": ["真题解析", "附赠音频", "思维导图"]},
            "绘本": {"读者": ["儿童"], "卖点": ["彩色插图", "附赠音频", "大字版"], "页数": ["32页", "48页", "64页"]},
            "童书": {"读者": ["儿童", "青少年"]},
        },
    },
}

# How likely each item is to carry an optional attribute; attributes not listed are always present.
OPTIONAL_ATTRIBUTE_RATE: dict[str, float] = {"好评率": 0.6, "发货": 0.8, "售后": 0.7, "颜色": 0.8, "储存": 0.6, "场景": 0.8}

# Attribute name -> kind (for typed features, value lexicons and the faithfulness checker).
ATTRIBUTE_KINDS: dict[str, str] = {
    "材质": "material", "风格": "style", "季节": "season", "版型": "fit", "卖点": "selling_point",
    "颜色": "color", "尺码": "size", "肤质": "skin_type", "功效": "efficacy", "成分": "ingredient",
    "质地": "texture", "规格": "spec", "产地": "origin", "口味": "flavour", "标签": "label",
    "储存": "storage", "场景": "scene", "月龄": "age_range", "装帧": "binding", "读者": "audience",
    "页数": "pages", "评分": "rating", "好评率": "rating", "月销": "sales", "发货": "shipping",
    "售后": "after_sales", "价格": "price", "促销": "promo",
}

# --------------------------------------------------------------------------------------------
# Promotions: patterns with their parameter choices (rendered values are verbatim surfaces)
# --------------------------------------------------------------------------------------------

PROMOS: dict[str, dict[str, Any]] = {
    "满减": {"pattern": "满{a}减{b}", "params": [(99, 10), (199, 30), (299, 50), (399, 60), (599, 100)]},
    "第二件半价": {"pattern": "第二件半价", "params": [()]},
    "限时直降": {"pattern": "限时直降{a}元", "params": [(5,), (10,), (20,), (30,), (50,), (100,)]},
    "折扣": {"pattern": "{a}折", "params": [(9,), (8,), (7,)]},
    "包邮": {"pattern": "满{a}包邮", "params": [(39,), (59,), (99,)]},
    "买赠": {"pattern": "买一送一", "params": [()]},
}

DISCOUNTS: list[float] = [0.1, 0.2, 0.3]  # fractions off; 0.2 = 8折


def render_promos() -> list[str]:
    """Every promotion surface the catalog can hold (满199减30, 第二件半价, ...)."""
    out: list[str] = []
    for spec in PROMOS.values():
        for params in spec["params"]:
            keys = "ab"[: len(params)]
            out.append(spec["pattern"].format(**dict(zip(keys, params, strict=True))))
    return out


def discount_text(discount: float) -> str:
    """0.2 -> '8折', 0.15 -> '8.5折'; empty for no discount."""
    if not discount or discount <= 0:
        return ""
    tenths = round((1.0 - discount) * 10, 1)
    return f"{tenths:g}折"


def price_text(price: float) -> str:
    """Verbatim price surface: 79 -> '79', 79.9 -> '79.9'."""
    return f"{round(float(price), 1):g}"


# --------------------------------------------------------------------------------------------
# Personas (user segments): aspect weights over attribute names, hooks, benefit/scene phrases
# --------------------------------------------------------------------------------------------

PERSONAS: dict[str, dict[str, Any]] = {
    "价格敏感": {
        "aspects": {"价格": 1.0, "促销": 0.95, "月销": 0.5, "规格": 0.35, "评分": 0.3},
        "hook_words": ["省钱", "划算", "券后", "到手价"],
        "hooks": ["省钱看这里", "闭眼入不踩雷", "划算到家", "到手价超香", "钱包友好"],
        "scenes": ["花小钱办大事", "省下的钱能多买一件", "囤货正当时", "性价比很能打"],
    },
    "追求时尚": {
        "aspects": {"风格": 1.0, "颜色": 0.9, "版型": 0.7, "质地": 0.5, "卖点": 0.4},
        "hook_words": ["潮流", "出街", "氛围感"],
        "hooks": ["今年流行这样穿", "出街回头率高", "氛围感拉满", "潮人都在买"],
        "scenes": ["出街拍照很上镜", "轻松穿出氛围感", "约会逛街都合适", "跟上今年的潮流"],
    },
    "注重品质": {
        "aspects": {"材质": 1.0, "售后": 0.7, "评分": 0.6, "规格": 0.5, "成分": 0.5, "产地": 0.4},
        "hook_words": ["做工", "用料扎实"],
        "hooks": ["做工经得起细看", "用料扎实", "懂行的人会选它", "品质控请放心"],
        "scenes": ["细节经得起推敲", "用得久更省心", "做工看得见", "耐用不将就"],
    },
    "宝妈": {
        "aspects": {"材质": 1.0, "月龄": 0.9, "卖点": 0.7, "售后": 0.5, "尺码": 0.4},
        "hook_words": ["宝宝", "放心", "省时"],
        "hooks": ["宝妈放心选", "给宝宝用更安心", "带娃省时省力", "新手妈妈看过来"],
        "scenes": ["带娃出门更轻松", "宝宝用着更安心", "省下时间陪宝宝", "全家都用得上"],
    },
    "学生党": {
        "aspects": {"价格": 1.0, "促销": 0.7, "场景": 0.5, "读者": 0.5, "规格": 0.4},
        "hook_words": ["平价", "宿舍必备"],
        "hooks": ["学生党平价好物", "宿舍必备", "开学季安排上", "生活费也能轻松拿下"],
        "scenes": ["宿舍用刚刚好", "上课自习都方便", "开学季用得上", "生活费也不心疼"],
    },
    "上班族": {
        "aspects": {"风格": 0.8, "卖点": 0.8, "规格": 0.6, "发货": 0.6, "场景": 0.5},
        "hook_words": ["省时", "通勤路上"],
        "hooks": ["打工人省时好物", "上下班路上的好帮手", "忙碌上班族看过来", "工位常备"],
        "scenes": ["上下班路上也方便", "午休时间刚刚好", "工位放一个很实用", "忙碌工作日省心"],
    },
    "健身爱好者": {
        "aspects": {"场景": 1.0, "标签": 0.9, "卖点": 0.8, "材质": 0.5, "规格": 0.5},
        "hook_words": ["燃脂", "训练"],
        "hooks": ["练起来更带劲", "健身党收藏", "训练搭子", "自律人士看过来"],
        "scenes": ["训练时更专注", "燃脂计划好帮手", "练完补给正合适", "坚持训练更轻松"],
    },
    "银发族": {
        "aspects": {"卖点": 1.0, "材质": 0.6, "售后": 0.6, "规格": 0.5, "评分": 0.4},
        "hook_words": ["易用", "舒适", "大字"],
        "hooks": ["爸妈用着顺手", "长辈也能轻松上手", "孝心好物", "简单好用"],
        "scenes": ["爸妈用着更舒适", "操作简单不费劲", "送长辈很贴心", "日常用着省心"],
    },
    "户外爱好者": {
        "aspects": {"卖点": 1.0, "规格": 0.8, "场景": 0.8, "材质": 0.6},
        "hook_words": ["防水", "轻量", "耐磨"],
        "hooks": ["户外人装备清单", "说走就走", "出发去野", "周末徒步安排上"],
        "scenes": ["徒步露营都能带", "户外出行更轻松", "背上就能出发", "风雨路上也放心"],
    },
    "颜值党": {
        "aspects": {"颜色": 1.0, "风格": 0.9, "质地": 0.6, "装帧": 0.5, "卖点": 0.4},
        "hook_words": ["颜值", "配色", "包装"],
        "hooks": ["颜值在线", "好看到想囤", "高颜值好物", "拍照很出片"],
        "scenes": ["放着就是风景", "拍照很出片", "送礼很有面子", "每天看着都开心"],
    },
    "科技发烧友": {
        "aspects": {"规格": 1.0, "卖点": 0.8, "评分": 0.4, "售后": 0.3},
        "hook_words": ["参数", "性能"],
        "hooks": ["参数党看过来", "性能党心动", "数码控必看", "硬核配置"],
        "scenes": ["日常使用很流畅", "性能释放很稳", "多设备用着顺手", "效率直接拉满"],
    },
    "养生派": {
        "aspects": {"标签": 1.0, "产地": 0.9, "成分": 0.7, "材质": 0.5, "储存": 0.4},
        "hook_words": ["低糖", "天然", "产地"],
        "hooks": ["养生人士安排", "吃得更安心", "健康生活从这开始", "讲究人的日常"],
        "scenes": ["日常调养好搭配", "健康生活好帮手", "吃得放心更安心", "每天来一点刚刚好"],
    },
}

SEGMENTS: list[str] = list(PERSONAS)


def persona_weight(persona: str | None, attribute: str) -> float:
    """Aspect weight of an attribute for a persona (0 when unknown or not personalized)."""
    if persona is None or persona not in PERSONAS:
        return 0.0
    return float(PERSONAS[persona]["aspects"].get(attribute, 0.0))


def top_aspect(persona: str | None, attributes: list[str]) -> str | None:
    """The persona's highest-weighted attribute among those given (None if none is weighted)."""
    best = max(attributes, key=lambda a: persona_weight(persona, a), default=None)
    return best if best is not None and persona_weight(persona, best) > 0 else None


# --------------------------------------------------------------------------------------------
# Brands (invented 2-character names), length buckets, ad-law terms used for corrupted negatives
# --------------------------------------------------------------------------------------------

BRAND_SYLLABLES_1: list[str] = list("澜屿栖沐禾森予芮朗素棠青岚野木初拾遇知溪汐半暖北南")
BRAND_SYLLABLES_2: list[str] = list("屿舍川谷物集研造作坊记然语象光里叶间序白原朵")


# Banned absolute terms (广告法 §9/§17 categories, docs/text.md, Compliance); our own selection.
ABSOLUTE_TERMS: list[str] = [
    "最佳", "最好", "最强", "最低价", "最便宜", "最先进", "最受欢迎", "史上最低价",
    "销量第一", "全网第一", "NO.1", "TOP1", "独一无二", "独家", "首家", "首选", "全球首发",
    "国家级", "世界级", "最高级", "顶级", "顶尖", "极品", "极致", "终极", "至尊", "巅峰", "王牌",
    "销量冠军", "领袖品牌", "世界领先", "绝对", "百分百", "100%有效", "永久", "万能", "完美",
    "绝无仅有", "史无前例", "无与伦比", "国家机关推荐", "特供", "专供", "质量免检", "驰名商标",
    "治疗", "根治", "消炎", "抗癌", "药用", "速效", "仅此一次", "绝版", "最后一波",
]
ALLOWED_COMPOUNDS: list[str] = ["最近", "最后一步", "第一次", "首页", "一级", "最佳赏味期"]


def value_lexicon() -> dict[str, set[str]]:
    """attribute name -> every value any item can hold (across categories and sub-categories)."""
    lex: dict[str, set[str]] = {k: set(v) for k, v in SHARED_ATTRIBUTES.items()}
    for spec in CATEGORIES.values():
        for attr, values in spec["attributes"].items():
            lex.setdefault(attr, set()).update(values)
        for overrides in spec.get("sub_attributes", {}).values():
            for attr, values in overrides.items():
                lex.setdefault(attr, set()).update(values)
    lex[PROMO_ATTRIBUTE] = set(render_promos())
    return lex


def subcategory_attributes(category: str, subcategory: str) -> dict[str, list[str]]:
    """Attribute -> values for one sub-category (category defaults overlaid with its overrides)."""
    spec = CATEGORIES[category]
    attrs = {k: list(v) for k, v in spec["attributes"].items()}
    attrs.update({k: list(v) for k, v in spec.get("sub_attributes", {}).get(subcategory, {}).items()})
    return attrs
