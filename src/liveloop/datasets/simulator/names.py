"""Word lists for synthetic names and titles (Chinese and English), per category."""

from __future__ import annotations

#: category -> (brands as (zh, en), product nouns as (zh, en))
CATALOGUE_WORDS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "beauty": (
        (
            ("花西子", "Florasis"),
            ("完美日记", "Perfect Diary"),
            ("珀莱雅", "Proya"),
            ("薇诺娜", "Winona"),
            ("兰蔻", "Lancome"),
            ("欧莱雅", "L'Oreal"),
        ),
        (
            ("精华液", "serum"),
            ("面霜", "face cream"),
            ("口红", "lipstick"),
            ("粉底液", "foundation"),
            ("面膜", "sheet mask"),
            ("眼霜", "eye cream"),
            ("防晒霜", "sunscreen"),
        ),
    ),
    "apparel": (
        (
            ("优衣库", "Uniqlo"),
            ("太平鸟", "Peacebird"),
            ("波司登", "Bosideng"),
            ("李宁", "Li-Ning"),
            ("安踏", "Anta"),
        ),
        (
            ("羽绒服", "down jacket"),
            ("卫衣", "hoodie"),
            ("连衣裙", "dress"),
            ("运动鞋", "sneakers"),
            ("牛仔裤", "jeans"),
            ("毛衣", "sweater"),
        ),
    ),
    "food": (
        (
            ("三只松鼠", "Three Squirrels"),
            ("良品铺子", "Bestore"),
            ("百草味", "Be&Cheery"),
            ("五芳斋", "Wufangzhai"),
        ),
        (
            ("坚果礼盒", "nut gift box"),
            ("牛肉干", "beef jerky"),
            ("螺蛳粉", "river-snail noodles"),
            ("零食大礼包", "snack bundle"),
            ("咖啡豆", "coffee beans"),
        ),
    ),
    "electronics": (
        (("小米", "Xiaomi"), ("华为", "Huawei"), ("荣耀", "Honor"), ("漫步者", "Edifier"), ("大疆", "DJI")),
        (
            ("蓝牙耳机", "wireless earbuds"),
            ("充电宝", "power bank"),
            ("智能手表", "smartwatch"),
            ("平板电脑", "tablet"),
            ("运动相机", "action camera"),
        ),
    ),
    "home": (
        (
            ("网易严选", "NetEase Yanxuan"),
            ("苏泊尔", "Supor"),
            ("九阳", "Joyoung"),
            ("水星家纺", "Mercury Home"),
        ),
        (
            ("四件套", "bedding set"),
            ("空气炸锅", "air fryer"),
            ("保温杯", "thermos"),
            ("收纳盒", "storage box"),
            ("乳胶枕", "latex pillow"),
        ),
    ),
    "baby": (
        (("好奇", "Huggies"), ("帮宝适", "Pampers"), ("飞鹤", "Feihe"), ("babycare", "babycare")),
        (
            ("纸尿裤", "diapers"),
            ("奶粉", "infant formula"),
            ("湿巾", "baby wipes"),
            ("儿童水杯", "kids' cup"),
        ),
    ),
    "jewelry": (
        (("周大福", "Chow Tai Fook"), ("老凤祥", "Lao Feng Xiang"), ("潘多拉", "Pandora")),
        (
            ("金手链", "gold bracelet"),
            ("珍珠项链", "pearl necklace"),
            ("银耳钉", "silver earrings"),
            ("玉镯", "jade bangle"),
        ),
    ),
    "health": (
        (("汤臣倍健", "By-health"), ("Swisse", "Swisse"), ("同仁堂", "Tongrentang")),
        (
            ("维生素C", "vitamin C"),
            ("鱼油", "fish oil"),
            ("蛋白粉", "protein powder"),
            ("益生菌", "probiotics"),
        ),
    ),
}

#: Title adjectives (zh, en).
ADJECTIVES: tuple[tuple[str, str], ...] = (
    ("新款", "new"),
    ("经典", "classic"),
    ("轻薄", "light"),
    ("限定", "limited"),
    ("家庭装", "family-size"),
    ("升级版", "upgraded"),
    ("便携", "portable"),
    ("冬季", "winter"),
    ("高端", "premium"),
    ("基础款", "basic"),
)

HOST_NAMES: tuple[str, ...] = (
    "小雅",
    "阿杰",
    "琪琪",
    "大鹏",
    "甜甜",
    "老王",
    "Lily",
    "莉莉",
    "阿强",
    "小鹿",
    "豆豆",
    "小七",
    "Kevin",
    "晓雯",
    "阿珍",
    "佳佳",
    "浩哥",
    "Mia",
    "欢欢",
    "明明",
)

REGIONS: tuple[str, ...] = (
    "广东",
    "浙江",
    "江苏",
    "山东",
    "河南",
    "四川",
    "湖北",
    "湖南",
    "福建",
    "上海",
    "北京",
    "河北",
    "安徽",
    "陕西",
    "辽宁",
    "重庆",
    "云南",
    "广西",
    "江西",
    "天津",
)
REGION_WEIGHTS: tuple[float, ...] = (
    12,
    9,
    9,
    8,
    7,
    6,
    5,
    5,
    5,
    5,
    5,
    4,
    4,
    3,
    3,
    3,
    2,
    2,
    2,
    2,
)
AGE_BANDS: tuple[str, ...] = ("18-24", "25-30", "31-40", "41-50", "50+")
AGE_WEIGHTS: tuple[float, ...] = (0.24, 0.30, 0.27, 0.12, 0.07)
