"""Builds the independent evaluation catalog (items.jsonl, pairs.jsonl) from hand-written items and templates.

Written without reference to abkit's own vocabulary: other categories, other attribute keys, other spellings.
Every text is labelled by construction with exactly one class:
  faithful      states >=1 attribute/price/discount value, all consistent with the item (any spelling)
  contradicting states >=1 value that conflicts with the item's own value for the same attribute
  unsupported   states a checkable factual value for an attribute the item does not have (no contradiction)
  subjective    consistent facts plus style/subjective words (简约, 百搭, 高级感 ...)
  banned        consistent facts plus an absolute / authority / medical advertising term
  clean         consistent facts with allowlisted look-alikes (最近, 第一次, 首页, brand names ...) - for false positives
Split is by item: items whose index is in DEV_ITEMS go to `dev`, the rest to `test` (frozen; never tune on it).
Run: python tests/abkit/text/data/independent/build.py   (deterministic)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent

# ---------------------------------------------------------------- value spellings (hand-written)
SURFACE: dict[str, list[str]] = {
    # volumes
    "0.5L": ["0.5L", "500ml", "500毫升", "0.5升", "500mL"], "1.2L": ["1.2L", "1200ml", "1.2升"],
    "1.7L": ["1.7L", "1700ml", "1.7升"], "2L": ["2L", "2升", "2000ml"], "350ml": ["350ml", "350毫升", "0.35L"],
    "600ml": ["600ml", "0.6L", "600毫升"], "240ml": ["240ml", "240毫升"], "160ml": ["160ml", "160毫升"],
    "300ml": ["300ml", "0.3L", "300毫升"], "50ml": ["50ml", "50毫升"], "30ml": ["30ml", "30毫升"],
    "100ml": ["100ml", "100毫升", "0.1L"], "40L": ["40L", "40升"], "60L": ["60L", "60升"], "25L": ["25L", "25升"],
    "750ml": ["750ml", "0.75L", "750毫升"], "1L": ["1L", "1升", "1000ml"], "80L": ["80L", "80升"],
    # lengths
    "20cm": ["20cm", "20厘米"], "26cm": ["26cm", "26厘米", "260mm"], "28cm": ["28cm", "28厘米", "280mm"],
    "32cm": ["32cm", "32厘米"], "30cm": ["30cm", "30厘米"], "0.5mm": ["0.5mm", "0.5毫米"],
    "0.38mm": ["0.38mm", "0.38毫米"], "0.7mm": ["0.7mm", "0.7毫米"],
    # masses
    "1.5kg": ["1.5kg", "1500g", "1.5公斤", "3斤"], "2.3kg": ["2.3kg", "2300g", "2.3公斤"],
    "800g": ["800g", "0.8kg", "800克"], "350g": ["350g", "350克"], "2kg": ["2kg", "2公斤", "4斤", "2000g"],
    "500g": ["500g", "500克", "1斤", "0.5kg"], "10kg": ["10kg", "10公斤", "20斤"], "85g": ["85g", "85克"],
    "1kg": ["1kg", "1公斤", "1000g", "2斤"], "250g": ["250g", "250克", "半斤"], "180g": ["180g", "180克"],
    "1.2kg": ["1.2kg", "1200g", "1.2公斤"], "850g": ["850g", "0.85kg", "850克"], "2.6kg": ["2.6kg", "2600g"],
    "480g": ["480g", "480克"], "15g": ["15g", "15克"], "100g": ["100g", "100克"], "80g": ["80g", "80克"],
    "120g": ["120g", "120克"], "3kg": ["3kg", "3公斤", "6斤"], "5kg": ["5kg", "5公斤", "10斤"],
    # durations
    "12个月": ["12个月", "一年", "1年", "365天"], "180天": ["180天", "6个月", "半年"], "9个月": ["9个月", "270天"],
    "8个月": ["8个月", "240天"], "18个月": ["18个月", "一年半"],
    # materials / textiles
    "全棉": ["全棉", "纯棉", "100%棉", "100%纯棉"], "竹纤维": ["竹纤维", "竹纤维面料"],
    "304不锈钢": ["304不锈钢", "SUS304不锈钢", "304钢"], "316不锈钢": ["316不锈钢", "SUS316不锈钢", "316钢"],
    "铸铁": ["铸铁", "生铁"], "陶瓷": ["陶瓷", "陶瓷材质"], "高硼硅玻璃": ["高硼硅玻璃", "高硼硅"],
    "食品级硅胶": ["食品级硅胶", "硅胶"], "竹木": ["竹木", "天然竹木"], "PPSU": ["PPSU", "ppsu"],
    "铝合金": ["铝合金", "航空铝合金"], "碳纤维": ["碳纤维"], "尼龙": ["尼龙", "尼龙面料"], "涤纶": ["涤纶", "聚酯纤维"],
    "钛合金": ["钛合金"], "天然橡胶": ["天然橡胶", "橡胶"], "剑麻": ["剑麻"], "法兰绒": ["法兰绒"], "棉麻": ["棉麻"],
    # seasons
    "春秋款": ["春秋款", "春秋季", "春秋"], "夏季款": ["夏季款", "夏款", "夏天款", "夏季"], "冬季款": ["冬季款", "冬款", "冬天款", "冬季"],
    # colours
    "奶白色": ["奶白色", "奶白"], "墨绿色": ["墨绿色", "墨绿"], "雾蓝色": ["雾蓝色", "雾蓝"], "黑色": ["黑色", "黑"],
    "樱花粉": ["樱花粉", "樱花粉色"], "蓝色": ["蓝色", "蓝"], "红色": ["红色", "红"],
    # flavours
    "鸡肉味": ["鸡肉味", "鸡肉口味"], "三文鱼味": ["三文鱼味", "三文鱼口味"], "牛肉味": ["牛肉味", "牛肉口味"],
    "原味": ["原味"], "海盐味": ["海盐味", "海盐口味"], "香辣味": ["香辣味", "香辣口味", "香辣"], "芝士味": ["芝士味", "芝士口味"],
    "蜂蜜黄油味": ["蜂蜜黄油味", "蜂蜜黄油口味"],
    # pets
    "猫咪": ["猫咪", "猫"], "狗狗": ["狗狗", "犬"], "幼猫": ["幼猫"], "成猫": ["成猫"], "幼犬": ["幼犬"], "成犬": ["成犬"],
    # stationery
    "A5": ["A5"], "B5": ["B5"], "A4": ["A4"], "80页": ["80页"], "120页": ["120页"], "60页": ["60页"],
    "12支装": ["12支装", "12支"], "5支装": ["5支装", "5支"], "3本装": ["3本装", "3本"], "24色": ["24色"], "36色": ["36色"],
    # baby
    "0-6个月": ["0-6个月", "0~6个月", "0到6个月"], "6-12个月": ["6-12个月", "6~12个月"], "1-3岁": ["1-3岁", "1~3岁"],
    "80抽": ["80抽"], "100抽": ["100抽"], "M码": ["M码", "M号"], "L码": ["L码", "L号"], "NB码": ["NB码", "NB号"],
    # cosmetics
    "干性肌肤": ["干性肌肤", "干皮"], "油性肌肤": ["油性肌肤", "油皮"], "敏感肌": ["敏感肌", "敏感肌肤"], "混合肌": ["混合肌", "混合皮"],
    "SPF50+ PA++++": ["SPF50+ PA++++", "SPF50+", "spf50+"], "SPF30 PA+++": ["SPF30 PA+++", "SPF30"],
    "乳液": ["乳液"], "啫喱": ["啫喱"], "膏霜": ["膏霜", "霜状"], "喷雾": ["喷雾"],
    "无香": ["无香", "无香型"], "白茶香": ["白茶香", "白茶香型"], "玫瑰香": ["玫瑰香", "玫瑰香型"],
    # snacks
    "云南": ["云南"], "新疆": ["新疆"], "福建": ["福建"], "内蒙古": ["内蒙古"], "山东": ["山东"],
    "独立小包装": ["独立小包装", "独立包装"], "罐装": ["罐装"], "一级": ["一级"], "特级": ["特级"],
    # outdoor
    "IPX4": ["IPX4"], "IPX6": ["IPX6"], "IPX7": ["IPX7"], "2人": ["2人", "双人", "两人"], "3-4人": ["3-4人", "3~4人"],
    "单人": ["单人", "1人"], "PU3000mm": ["PU3000mm", "PU3000"], "PU5000mm": ["PU5000mm", "PU5000"],
}

# Key -> sentence templates ({v} = a spelling of the value). Templates make the attribute plain to a reader.
KEY_TEMPLATES: dict[str, list[str]] = {
    "材质": ["{v}材质", "采用{v}", "{v}打造", "主体用的是{v}", "{v}做的"],
    "面料": ["{v}面料", "面料是{v}", "选用{v}"],
    "容量": ["容量{v}", "{v}容量", "足足{v}", "能装{v}"],
    "直径": ["直径{v}", "{v}口径", "锅身{v}"],
    "重量": ["重量{v}", "整体{v}", "仅重{v}", "只有{v}重"],
    "颜色": ["{v}配色", "{v}款", "颜色是{v}"],
    "适用宠物": ["{v}专用", "适合{v}", "给{v}吃的"],
    "口味": ["{v}", "{v}的", "口味是{v}"],
    "净含量": ["净含量{v}", "{v}装", "一袋{v}", "整包{v}"],
    "适用阶段": ["适合{v}", "{v}专用", "{v}阶段适用"],
    "季节": ["{v}", "{v}适用", "适合{v}用"],
    "防水等级": ["{v}防水", "防水等级{v}", "达到{v}级防水"],
    "防水指数": ["防水指数{v}", "{v}防水涂层"],
    "适用人数": ["{v}帐", "可住{v}", "适合{v}使用"],
    "笔尖": ["{v}笔尖", "笔尖{v}", "{v}子弹头"],
    "墨水颜色": ["{v}墨水", "墨水是{v}", "{v}笔芯"],
    "规格": ["{v}规格", "{v}尺寸", "规格{v}"],
    "页数": ["{v}", "内页{v}", "一本{v}"],
    "数量": ["{v}", "一盒{v}", "一套{v}"],
    "克重": ["{v}加厚纸张", "纸张{v}", "{v}道林纸"],
    "适用月龄": ["{v}宝宝适用", "适合{v}的宝宝", "{v}可用"],
    "尺码": ["{v}", "尺码{v}", "{v}适合"],
    "抽数": ["每包{v}", "{v}大包", "一包{v}"],
    "适用肤质": ["{v}适用", "适合{v}", "{v}也能用"],
    "防晒指数": ["{v}", "防晒指数{v}", "{v}高倍防晒"],
    "质地": ["{v}质地", "{v}状", "质地是{v}"],
    "香型": ["{v}", "香味是{v}", "{v}的味道"],
    "产地": ["产自{v}", "{v}产地直发", "原产地{v}", "{v}产区"],
    "保质期": ["保质期{v}", "{v}保质期", "保质期长达{v}"],
    "包装": ["{v}", "{v}设计", "{v}方便携带"],
    "等级": ["{v}品质", "{v}标准", "等级{v}"],
}

DIM = {"容量": "volume", "重量": "mass", "净含量": "mass", "克重": "mass", "直径": "length", "笔尖": "length",
       "保质期": "duration"}

# ---------------------------------------------------------------- items (hand-written)
# category -> list of (brand, title, price, discount, attributes); domains list each key's possible values.
CATALOG: dict[str, dict] = {
    "厨具": {
        "domains": {"材质": ["304不锈钢", "316不锈钢", "铸铁", "陶瓷", "高硼硅玻璃", "食品级硅胶", "竹木"],
                    "容量": ["0.5L", "1.2L", "1.7L", "2L", "350ml", "600ml"], "直径": ["20cm", "26cm", "28cm", "32cm"],
                    "重量": ["1.5kg", "2.3kg", "800g", "350g"],
                    "颜色": ["奶白色", "墨绿色", "雾蓝色", "黑色", "樱花粉"]},
        "items": [
            ("至尊熊", "至尊熊 316不锈钢保温杯", 129.0, 0.2, {"材质": "316不锈钢", "容量": "0.5L", "颜色": "奶白色"}),
            ("铁匠铺", "铁匠铺 铸铁炒锅", 259.0, 0.0, {"材质": "铸铁", "直径": "32cm", "重量": "2.3kg"}),
            ("禾厨", "禾厨 陶瓷汤锅", 199.0, 0.3, {"材质": "陶瓷", "容量": "2L", "直径": "20cm", "颜色": "墨绿色"}),
            ("橙舍", "橙舍 玻璃饭盒三件套", 69.9, 0.0, {"材质": "高硼硅玻璃", "容量": "600ml", "颜色": "雾蓝色"}),
            ("锅小匠", "锅小匠 不粘煎锅", 139.0, 0.2, {"直径": "28cm", "重量": "800g", "颜色": "黑色"}),
            ("木野", "木野 竹木砧板", 59.0, 0.0, {"材质": "竹木", "重量": "1.5kg"}),
            ("禾厨", "禾厨 电热水壶", 149.0, 0.1, {"材质": "304不锈钢", "容量": "1.7L", "颜色": "奶白色"}),
            ("橙舍", "橙舍 硅胶保鲜盖", 29.9, 0.0, {"材质": "食品级硅胶", "颜色": "樱花粉"}),
            ("至尊熊", "至尊熊 焖烧杯", 169.0, 0.5, {"材质": "316不锈钢", "容量": "350ml", "重量": "350g"}),
            ("铁匠铺", "铁匠铺 小奶锅", 89.0, 0.0, {"材质": "304不锈钢", "直径": "20cm", "容量": "1.2L"}),
        ],
    },
    "宠物用品": {
        "domains": {"适用宠物": ["猫咪", "狗狗"], "口味": ["鸡肉味", "三文鱼味", "牛肉味"],
                    "净含量": ["2kg", "1.5kg", "500g", "10kg", "85g"], "适用阶段": ["幼猫", "成猫", "幼犬", "成犬"],
                    "材质": ["天然橡胶", "剑麻", "法兰绒", "棉麻"]},
        "items": [
            ("王牌喵", "王牌喵 全价猫粮", 129.0, 0.2, {"适用宠物": "猫咪", "口味": "三文鱼味", "净含量": "2kg", "适用阶段": "成猫"}),
            ("汪仔乐", "汪仔乐 牛肉狗粮", 219.0, 0.0, {"适用宠物": "狗狗", "口味": "牛肉味", "净含量": "10kg", "适用阶段": "成犬"}),
            ("王牌喵", "王牌喵 幼猫奶糕粮", 89.0, 0.1, {"适用宠物": "猫咪", "口味": "鸡肉味", "净含量": "1.5kg", "适用阶段": "幼猫"}),
            ("毛孩日记", "毛孩日记 主食猫罐头", 9.9, 0.0, {"适用宠物": "猫咪", "口味": "鸡肉味", "净含量": "85g"}),
            ("汪仔乐", "汪仔乐 磨牙玩具", 35.0, 0.0, {"适用宠物": "狗狗", "材质": "天然橡胶"}),
            ("毛孩日记", "毛孩日记 剑麻猫抓板", 45.0, 0.2, {"适用宠物": "猫咪", "材质": "剑麻"}),
            ("暖窝窝", "暖窝窝 法兰绒宠物垫", 79.0, 0.3, {"材质": "法兰绒", "适用宠物": "狗狗"}),
            ("汪仔乐", "汪仔乐 幼犬鸡肉粮", 99.0, 0.0, {"适用宠物": "狗狗", "口味": "鸡肉味", "净含量": "2kg", "适用阶段": "幼犬"}),
            ("王牌喵", "王牌喵 冻干零食", 59.0, 0.0, {"适用宠物": "猫咪", "口味": "三文鱼味", "净含量": "500g"}),
            ("暖窝窝", "暖窝窝 棉麻猫窝", 119.0, 0.2, {"材质": "棉麻", "适用宠物": "猫咪"}),
        ],
    },
    "户外装备": {
        "domains": {"季节": ["春秋款", "夏季款", "冬季款"], "重量": ["1.2kg", "850g", "2.6kg", "480g"],
                    "容量": ["40L", "60L", "25L"], "材质": ["铝合金", "碳纤维", "尼龙", "涤纶", "钛合金"],
                    "适用人数": ["2人", "3-4人", "单人"], "防水等级": ["IPX4", "IPX6", "IPX7"],
                    "防水指数": ["PU3000mm", "PU5000mm"]},
        "items": [
            ("巅峰山野", "巅峰山野 双人帐篷", 399.0, 0.2, {"季节": "春秋款", "适用人数": "2人", "重量": "2.6kg", "防水指数": "PU3000mm"}),
            ("远行者", "远行者 登山背包", 329.0, 0.0, {"容量": "40L", "材质": "尼龙", "重量": "1.2kg"}),
            ("远行者", "远行者 碳纤维登山杖", 189.0, 0.1, {"材质": "碳纤维", "重量": "480g"}),
            ("巅峰山野", "巅峰山野 冬季睡袋", 459.0, 0.3, {"季节": "冬季款", "重量": "1.2kg", "材质": "涤纶"}),
            ("青岚", "青岚 户外头灯", 89.0, 0.0, {"防水等级": "IPX6", "重量": "85g"} if False else {"防水等级": "IPX6"}),
            ("青岚", "青岚 轻量天幕", 259.0, 0.2, {"季节": "夏季款", "材质": "涤纶", "防水指数": "PU5000mm", "重量": "850g"}),
            ("远行者", "远行者 大容量徒步包", 499.0, 0.0, {"容量": "60L", "材质": "尼龙", "防水等级": "IPX4"}),
            ("巅峰山野", "巅峰山野 家庭帐篷", 699.0, 0.2, {"季节": "春秋款", "适用人数": "3-4人", "防水指数": "PU3000mm"}),
            ("青岚", "青岚 单人露营床", 229.0, 0.0, {"适用人数": "单人", "材质": "铝合金", "重量": "2.6kg"}),
            ("青岚", "青岚 骑行水袋包", 119.0, 0.1, {"容量": "25L", "防水等级": "IPX7", "重量": "480g"}),
        ],
    },
    "文具": {
        "domains": {"笔尖": ["0.5mm", "0.38mm", "0.7mm"], "墨水颜色": ["黑色", "蓝色", "红色"], "规格": ["A5", "B5", "A4"],
                    "页数": ["80页", "120页", "60页"], "数量": ["12支装", "5支装", "3本装", "24色", "36色"],
                    "克重": ["100g", "80g", "120g"]},
        "items": [
            ("第一课", "第一课 中性笔", 19.9, 0.0, {"笔尖": "0.5mm", "墨水颜色": "黑色", "数量": "12支装"}),
            ("纸研所", "纸研所 方格笔记本", 29.9, 0.2, {"规格": "A5", "页数": "80页", "数量": "3本装", "克重": "100g"}),
            ("墨点", "墨点 速干签字笔", 15.9, 0.0, {"笔尖": "0.38mm", "墨水颜色": "蓝色", "数量": "5支装"}),
            ("纸研所", "纸研所 错题本", 24.0, 0.0, {"规格": "B5", "页数": "120页", "克重": "80g"}),
            ("第一课", "第一课 水彩笔套装", 39.0, 0.1, {"数量": "24色"}),
            ("墨点", "墨点 红色批改笔", 12.0, 0.0, {"笔尖": "0.7mm", "墨水颜色": "红色", "数量": "5支装"}),
            ("纸研所", "纸研所 A4活页本", 35.0, 0.3, {"规格": "A4", "页数": "60页", "克重": "120g"}),
            ("拾光文具", "拾光文具 彩铅", 49.0, 0.0, {"数量": "36色"}),
            ("第一课", "第一课 考试笔", 22.0, 0.2, {"笔尖": "0.5mm", "墨水颜色": "黑色", "数量": "5支装"}),
            ("拾光文具", "拾光文具 手账本", 45.0, 0.0, {"规格": "A5", "页数": "120页", "克重": "100g"}),
        ],
    },
    "婴儿护理": {
        "domains": {"适用月龄": ["0-6个月", "6-12个月", "1-3岁"], "面料": ["全棉", "竹纤维"],
                    "材质": ["食品级硅胶", "PPSU"], "抽数": ["80抽", "100抽"], "尺码": ["M码", "L码", "NB码"],
                    "容量": ["240ml", "160ml", "300ml"]},
        "items": [
            ("萌芽", "萌芽 婴儿纱布浴巾", 69.0, 0.2, {"面料": "全棉", "适用月龄": "0-6个月"}),
            ("万能熊", "万能熊 宽口径奶瓶", 129.0, 0.0, {"材质": "PPSU", "容量": "240ml", "适用月龄": "6-12个月"}),
            ("萌芽", "萌芽 婴儿湿巾", 39.9, 0.1, {"抽数": "80抽"}),
            ("小橡树", "小橡树 拉拉裤", 109.0, 0.2, {"尺码": "L码", "适用月龄": "1-3岁"}),
            ("万能熊", "万能熊 硅胶餐具", 59.0, 0.0, {"材质": "食品级硅胶", "适用月龄": "6-12个月"}),
            ("小橡树", "小橡树 新生儿纸尿裤", 99.0, 0.0, {"尺码": "NB码", "适用月龄": "0-6个月"}),
            ("萌芽", "萌芽 竹纤维口水巾", 45.0, 0.3, {"面料": "竹纤维"}),
            ("万能熊", "万能熊 吸管杯", 79.0, 0.2, {"材质": "PPSU", "容量": "300ml", "适用月龄": "1-3岁"}),
            ("小橡树", "小橡树 婴儿棉柔巾", 29.9, 0.0, {"抽数": "100抽", "面料": "全棉"}),
            ("萌芽", "萌芽 新生儿奶瓶", 89.0, 0.1, {"材质": "PPSU", "容量": "160ml", "适用月龄": "0-6个月"}),
        ],
    },
    "化妆品": {
        "domains": {"适用肤质": ["干性肌肤", "油性肌肤", "敏感肌", "混合肌"], "容量": ["50ml", "30ml", "100ml"],
                    "防晒指数": ["SPF50+ PA++++", "SPF30 PA+++"], "质地": ["乳液", "啫喱", "膏霜", "喷雾"],
                    "香型": ["无香", "白茶香", "玫瑰香"], "净含量": ["15g", "50g" if False else "15g"]},
        "items": [
            ("完美肌", "完美肌 保湿面霜", 159.0, 0.2, {"适用肤质": "干性肌肤", "容量": "50ml", "质地": "膏霜", "香型": "无香"}),
            ("清研", "清研 控油乳液", 129.0, 0.0, {"适用肤质": "油性肌肤", "容量": "100ml", "质地": "乳液"}),
            ("清研", "清研 防晒喷雾", 99.0, 0.1, {"防晒指数": "SPF50+ PA++++", "质地": "喷雾", "容量": "100ml"}),
            ("素禾", "素禾 舒缓精华", 239.0, 0.3, {"适用肤质": "敏感肌", "容量": "30ml", "香型": "无香"}),
            ("完美肌", "完美肌 王牌小白瓶", 299.0, 0.2, {"容量": "30ml", "质地": "乳液", "香型": "白茶香"}),
            ("素禾", "素禾 清爽防晒乳", 89.0, 0.0, {"防晒指数": "SPF30 PA+++", "适用肤质": "混合肌", "容量": "50ml"}),
            ("花间集", "花间集 玫瑰身体乳", 69.0, 0.0, {"香型": "玫瑰香", "质地": "乳液", "容量": "100ml"}),
            ("花间集", "花间集 修护面膜", 119.0, 0.2, {"适用肤质": "敏感肌", "质地": "啫喱"}),
            ("清研", "清研 眼霜", 189.0, 0.0, {"质地": "膏霜", "适用肤质": "干性肌肤"}),
            ("素禾", "素禾 白茶洁面", 79.0, 0.1, {"香型": "白茶香", "适用肤质": "混合肌", "质地": "啫喱"}),
        ],
    },
    "零食": {
        "domains": {"口味": ["原味", "海盐味", "香辣味", "芝士味", "蜂蜜黄油味"], "净含量": ["500g", "1kg", "250g", "180g"],
                    "产地": ["云南", "新疆", "福建", "内蒙古", "山东"], "保质期": ["12个月", "180天", "9个月", "8个月"],
                    "包装": ["独立小包装", "罐装"], "等级": ["一级", "特级"]},
        "items": [
            ("极品铺子", "极品铺子 每日坚果", 129.0, 0.2, {"净含量": "750g" if False else "1kg", "包装": "独立小包装", "保质期": "180天", "口味": "原味"}),
            ("山味记", "山味记 新疆灰枣", 59.9, 0.0, {"产地": "新疆", "净含量": "500g", "等级": "特级"}),
            ("脆脆村", "脆脆村 海盐苏打饼", 19.9, 0.1, {"口味": "海盐味", "净含量": "250g", "保质期": "9个月"}),
            ("山味记", "山味记 云南鲜花饼", 39.9, 0.0, {"产地": "云南", "口味": "原味", "保质期": "8个月"}),
            ("极品铺子", "极品铺子 香辣牛肉干", 69.0, 0.3, {"产地": "内蒙古", "口味": "香辣味", "净含量": "250g"}),
            ("脆脆村", "脆脆村 芝士薯片", 12.9, 0.0, {"口味": "芝士味", "净含量": "180g", "保质期": "9个月"}),
            ("山味记", "山味记 一级红枣", 49.0, 0.2, {"产地": "新疆", "等级": "一级", "净含量": "1kg"}),
            ("甜丰年", "甜丰年 蜂蜜黄油扁桃仁", 35.0, 0.0, {"口味": "蜂蜜黄油味", "包装": "罐装", "保质期": "12个月"}),
            ("甜丰年", "甜丰年 福建肉松饼", 29.9, 0.1, {"产地": "福建", "包装": "独立小包装", "净含量": "500g"}),
            ("极品铺子", "极品铺子 山东花生", 25.0, 0.0, {"产地": "山东", "口味": "原味", "包装": "罐装", "保质期": "12个月"}),
        ],
    },
}

# Values that are NOT in this catalog but plainly belong to a key (a real reviewer knows 钛合金 is a material).
OFF_CATALOG = {"材质": ["钛合金", "搪瓷"], "容量": ["750ml", "1L", "80L"], "净含量": ["3kg", "5kg"], "重量": ["3kg", "5kg"],
               "保质期": ["18个月"], "直径": ["30cm"]}

SUBJECTIVE = ["简约大方", "颜值超高", "高级感满满", "百搭", "通勤党必备", "ins风", "小清新", "质感满满", "精致小巧",
              "手感很好", "北欧风", "日系", "复古", "可爱萌趣", "少女心爆棚", "温柔配色", "大气耐看", "轻奢",
              "有格调", "很出片", "治愈系", "氛围感拉满", "显瘦", "好看又实用", "设计感强", "上档次"]

BANNED_ANY = ["全网最低价", "史上最低价", "最好用的", "销量第一", "行业第一", "NO.1", "顶级品质", "国家级认证", "世界级工艺",
              "独一无二", "唯一认准", "百分百满意", "万能", "完美无瑕", "史无前例", "最佳选择", "首选品牌", "极致体验",
              "王牌产品", "至尊享受", "绝无仅有", "全球首发", "驰名商标", "特供", "国家机关推荐", "质量免检",
              "仅此一次", "最后一波", "最受欢迎的之一", "最畅销之一", "绝对正品", "顶尖工艺", "TOP1"]
BANNED_MEDICAL = {"零食": ["降血糖", "降血压", "防癌抗癌", "增强免疫力", "治疗失眠"],
                  "化妆品": ["治疗痘痘", "消炎祛痘", "根治湿疹", "药用级修复", "速效祛斑"],
                  "婴儿护理": ["治疗湿疹", "消炎止痒", "预防感冒", "根治红屁屁"]}

OPENERS = ["", "", "", "推荐这款，", "这款{title}，", "{brand}家的，", "姐妹们看过来，", "回购无数次，", "新手也能用，"]
CLOSERS = ["", "", "", "，值得入手", "，推荐", "，放心买", "，闭眼入", "，赶紧囤", "，日常用很合适"]
# Platform-wide service policy, not an item fact (promotions such as 满99减10 are item facts, so they are not used here).
SERVICE = ["7天无理由退换", "支持7天无理由退货", "7天无理由"]
CLEAN_LOOKALIKES = ["最近很多人回购", "第一次用就爱上了", "店铺首页还有优惠券", "最后一步记得拧紧盖子", "第一步先清洗",
                    "最近降温正好用得上", "首页领券更划算", "第一次买的新手也好上手", "最初是朋友推荐的",
                    "首次下单有赠品", "第一眼就喜欢"]


def surface(value: str, rng: random.Random) -> str:
    return rng.choice(SURFACE.get(value, [value]))


def fact(key: str, value: str, rng: random.Random) -> str:
    return rng.choice(KEY_TEMPLATES[key]).format(v=surface(value, rng))


def price_clause(item: dict, rng: random.Random, price: float | None = None) -> str:
    p = item["price"] if price is None else price
    ps = f"{p:g}"
    form = rng.choice([f"¥{ps}", f"{ps}元", f"￥{ps}", f"{ps}块"])
    if item["discount"]:
        return rng.choice(["原价{}", "标价{}", "日常价{}"]).format(form)
    return rng.choice(["只要{}", "{}就能带走", "售价{}", "才{}"]).format(form)


DISCOUNT_FORMS = {0.1: ["9折", "九折", "打9折"], 0.2: ["8折", "八折", "打八折", "享8折"], 0.3: ["7折", "七折", "打7折"],
                  0.5: ["5折", "五折", "半价"], 0.4: ["6折", "六折"]}


def discount_clause(off: float, rng: random.Random) -> str:
    return rng.choice(["现在{}", "限时{}", "活动{}", "下单{}"]).format(rng.choice(DISCOUNT_FORMS[off]))


def consistent_facts(item: dict, rng: random.Random, n: int) -> list[str]:
    keys = list(item["attributes"])
    rng.shuffle(keys)
    out = [fact(k, item["attributes"][k], rng) for k in keys[:n]]
    r = rng.random()
    if r < 0.2:
        out.append(price_clause(item, rng))
    elif r < 0.35 and item["discount"]:
        out.append(discount_clause(item["discount"], rng))
    return out


def assemble(item: dict, clauses: list[str], rng: random.Random, service: bool = True) -> str:
    rng.shuffle(clauses)
    body = "，".join(clauses)
    if service and rng.random() < 0.15:
        body += "，" + rng.choice(SERVICE)
    opener = rng.choice(OPENERS).format(title=item["title"].split(" ", 1)[-1], brand=item["brand"])
    return opener + body + rng.choice(CLOSERS)


def contradiction(item: dict, domains: dict, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.12:
        wrong = round(item["price"] * rng.choice([0.5, 0.7, 1.3, 1.6]))
        return price_clause(item, rng, float(wrong))
    if r < 0.2 and item["discount"]:
        options = [d for d in DISCOUNT_FORMS if abs(d - item["discount"]) > 1e-9]
        return discount_clause(rng.choice(options), rng)
    key = rng.choice(list(item["attributes"]))
    pool = [v for v in domains[key] if v != item["attributes"][key]]
    if key in OFF_CATALOG and rng.random() < 0.1:
        pool = [v for v in OFF_CATALOG[key] if v != item["attributes"][key]]
    if key == "适用阶段":  # 幼猫 vs 幼犬 is a species conflict too; keep same species
        pool = [v for v in pool if v[-1] == item["attributes"][key][-1]]
    return fact(key, rng.choice(pool), rng)


def unsupported(item: dict, cat: str, rng: random.Random) -> str | None:
    attrs = item["attributes"]
    dims = {DIM.get(k) for k in attrs} - {None}
    missing = [k for k in CATALOG[cat]["domains"] if k not in attrs and (DIM.get(k) is None or DIM[k] not in dims)]
    extra = [("防水等级", ["IPX6", "IPX7"]), ("产地", ["云南", "新疆"]), ("保质期", ["12个月", "18个月"])]
    extra = [(k, vs) for k, vs in extra if k not in attrs and (DIM.get(k) is None or DIM[k] not in dims)
             and k not in CATALOG[cat]["domains"]]
    if not missing and not extra:
        return None
    if missing and (not extra or rng.random() < 0.75):
        key = rng.choice(missing)
        return fact(key, rng.choice(CATALOG[cat]["domains"][key]), rng)
    key, values = rng.choice(extra)
    return fact(key, rng.choice(values), rng)


def build() -> tuple[list[dict], list[dict]]:
    rng = random.Random(20261201)
    items: list[dict] = []
    for cat, spec in CATALOG.items():
        for i, (brand, title, price, disc, attrs) in enumerate(spec["items"]):
            items.append({"item_id": f"{cat}-{i:02d}", "category": cat, "brand": brand, "title": title,
                          "price": price, "discount": disc, "attributes": attrs})
    split = {it["item_id"]: ("dev" if int(it["item_id"][-2:]) % 5 in (0, 3) else "test") for it in items}
    pairs: list[dict] = []
    seen: set[tuple[str, str]] = set()

    def add(item: dict, text: str, label: str) -> None:
        if (item["item_id"], text) in seen:
            return
        seen.add((item["item_id"], text))
        pairs.append({"item_id": item["item_id"], "text": text, "label": label, "split": split[item["item_id"]]})

    target = {"faithful": 250, "contradicting": 250, "unsupported": 250, "subjective": 250, "banned": 250, "clean": 450}
    counts = dict.fromkeys(target, 0)
    guard = 0
    while any(counts[k] < target[k] for k in target) and guard < 200000:
        guard += 1
        item = rng.choice(items)
        cat = item["category"]
        domains = CATALOG[cat]["domains"]
        label = rng.choice([k for k in target if counts[k] < target[k]])
        n = rng.choice([1, 1, 2, 2, 3])
        if label == "faithful":
            clauses = consistent_facts(item, rng, n)
        elif label == "contradicting":
            clauses = consistent_facts(item, rng, rng.choice([0, 0, 1])) + [contradiction(item, domains, rng)]
        elif label == "unsupported":
            claim = unsupported(item, cat, rng)
            if claim is None:
                continue
            clauses = consistent_facts(item, rng, rng.choice([0, 1, 1])) + [claim]
        elif label == "subjective":
            clauses = consistent_facts(item, rng, rng.choice([0, 1, 1, 2])) + rng.sample(SUBJECTIVE, rng.choice([1, 1, 2]))
        elif label == "banned":
            pool = BANNED_ANY + BANNED_MEDICAL.get(cat, []) * 3
            clauses = consistent_facts(item, rng, rng.choice([1, 1, 2])) + [rng.choice(pool)]
        else:  # clean: look-alikes, brand and title mentions
            clauses = consistent_facts(item, rng, rng.choice([1, 1, 2]))
            r = rng.random()
            if r < 0.45:
                clauses.append(rng.choice(CLEAN_LOOKALIKES))
            elif r < 0.75:
                clauses.insert(0, rng.choice([item["brand"] + "出品", item["title"], item["brand"] + "家的" + item["title"].split(" ")[-1]]))
            else:
                clauses.append(rng.choice(CLEAN_LOOKALIKES))
                clauses.insert(0, item["title"])
        if not clauses:
            continue
        before = len(pairs)
        add(item, assemble(item, clauses, rng, service=label != "unsupported"), label)
        counts[label] += len(pairs) - before
    return items, pairs


def main() -> None:
    items, pairs = build()
    with open(HERE / "items.jsonl", "w", encoding="utf-8") as fh:
        for it in items:
            fh.write(json.dumps(it, ensure_ascii=False) + "\n")
    with open(HERE / "pairs.jsonl", "w", encoding="utf-8") as fh:
        for p in pairs:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    from collections import Counter
    print(Counter((p["label"], p["split"]) for p in pairs))


if __name__ == "__main__":
    main()
