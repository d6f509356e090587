"""Feed simulator: a real HTTP server serving the partner platforms' job feeds, each as
its platform's integration contract describes it (paging, cursors, bearer token, time window).

Every platform answers ``GET /p/<code>/jobs?updated_since=&updated_until=&cursor=&limit=`` with a bearer
token. Postings are generated on the fly and deterministically from (seed, platform, index): posting ``i``
of a platform has a ``dateModified`` that grows with ``i``, so a window is an index range found by binary
search and nothing big is held in memory. Jobs on every third slot are shared by 2-3 platforms (reposts
with small differences); about 1.5 % of postings carry a deliberate defect. Faults are switched per
platform with :meth:`FeedSimulator.set_fault` or over HTTP (``POST``/``DELETE /admin/faults``).

Run it: ``python -m recruitment_devkit.feed_simulator --port 8765 [--seed N] [--volume N]``.

Pure module: no Airflow import.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import random
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from recruitment_devkit import unit_sizes
from recruitment_month.feeds import creditcode

log = logging.getLogger(__name__)

MAX_LIMIT = 1000
DUP_EVERY = 3
"""Every third index slot of a platform holds a job shared with 1-2 other platforms."""
DEFECT_PER_65536 = 983
"""About 1.5 % of postings carry a deliberate defect."""
DEFECTS = ("bad_credit_code", "salary_text", "missing_title")
EMPLOYER_POOL = 200_003
_PARTITIONS = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BJ = 8 * 3600  # Beijing time offset, seconds

# --------------------------------------------------------------------------------------------- content

# (unit code, [(city, 4-digit division prefix)]); each unit weighs its size (unit_sizes).
_PROVINCES: list[tuple[str, list[tuple[str, str]]]] = [
    ("110000", [("北京市", "1101")]),
    ("120000", [("天津市", "1201")]),
    ("130000", [("石家庄市", "1301"), ("唐山市", "1302"), ("保定市", "1306"), ("廊坊市", "1310")]),
    ("140000", [("太原市", "1401"), ("大同市", "1402")]),
    ("150000", [("呼和浩特市", "1501"), ("包头市", "1502"), ("鄂尔多斯市", "1506")]),
    ("210000", [("沈阳市", "2101"), ("大连市", "2102")]),
    ("220000", [("长春市", "2201"), ("吉林市", "2202")]),
    ("230000", [("哈尔滨市", "2301"), ("大庆市", "2306")]),
    ("310000", [("上海市", "3101")]),
    ("320000", [("南京市", "3201"), ("无锡市", "3202"), ("苏州市", "3205"), ("南通市", "3206")]),
    ("330000", [("杭州市", "3301"), ("宁波市", "3302"), ("温州市", "3303"), ("嘉兴市", "3304")]),
    ("340000", [("合肥市", "3401"), ("芜湖市", "3402")]),
    ("350000", [("福州市", "3501"), ("厦门市", "3502"), ("泉州市", "3505")]),
    ("360000", [("南昌市", "3601"), ("赣州市", "3607")]),
    ("370000", [("济南市", "3701"), ("青岛市", "3702"), ("烟台市", "3706"), ("潍坊市", "3707")]),
    ("410000", [("郑州市", "4101"), ("洛阳市", "4103")]),
    ("420000", [("武汉市", "4201"), ("宜昌市", "4205"), ("襄阳市", "4206")]),
    ("430000", [("长沙市", "4301"), ("株洲市", "4302")]),
    (
        "440000",
        [("广州市", "4401"), ("深圳市", "4403"), ("珠海市", "4404"), ("佛山市", "4406"), ("东莞市", "4419")],
    ),
    ("450000", [("南宁市", "4501"), ("柳州市", "4502"), ("桂林市", "4503")]),
    ("460000", [("海口市", "4601"), ("三亚市", "4602")]),
    ("500000", [("重庆市", "5001")]),
    ("510000", [("成都市", "5101"), ("绵阳市", "5107")]),
    ("520000", [("贵阳市", "5201"), ("遵义市", "5203")]),
    ("530000", [("昆明市", "5301"), ("曲靖市", "5303")]),
    ("540000", [("拉萨市", "5401")]),
    ("610000", [("西安市", "6101"), ("宝鸡市", "6103")]),
    ("620000", [("兰州市", "6201"), ("天水市", "6205")]),
    ("630000", [("西宁市", "6301")]),
    ("640000", [("银川市", "6401")]),
    ("650000", [("乌鲁木齐市", "6501"), ("克拉玛依市", "6502")]),
    ("660000", [("石河子市", "6590"), ("阿拉尔市", "6590"), ("五家渠市", "6590")]),
]
_TIER1 = {"110000", "310000", "440000"}
_TIER2 = {"320000", "330000", "350000", "370000", "420000", "510000", "500000", "120000"}


class _Industry(NamedTuple):
    name: str
    weight: float
    pay: float  # salary factor
    words: list[str]  # what employer names say
    titles: list[tuple[str, str]]  # (job title, occupational category)
    duties: list[str]
    majors: str


class _Written(NamedTuple):
    """An industry's pools written compactly: words and titles space-separated, ``title/category``,
    duties by '；'."""

    name: str
    weight: float
    pay: float
    words: str
    titles: str
    duties: str
    majors: str

    def read(self) -> _Industry:
        pairs = [(title, category) for title, category in (t.split("/") for t in self.titles.split())]
        return _Industry(
            self.name, self.weight, self.pay, self.words.split(), pairs, self.duties.split("；"), self.majors
        )


_WRITTEN_INDUSTRIES = [
    _Written(
        "信息技术", 22, 1.3, "科技 信息技术 网络科技 软件 数据科技 智能科技",
        "Java开发工程师/软件开发 前端开发工程师/软件开发 C++开发工程师/软件开发 算法工程师/人工智能 "
        "测试开发工程师/软件测试 数据分析师/数据分析 嵌入式软件工程师/嵌入式开发 产品经理/产品管理 "
        "运维工程师/IT运维 网络安全工程师/信息安全",
        "参与核心业务系统的设计与开发；编写高质量代码并完成单元测试；参与技术方案评审与性能优化",
        "计算机、软件工程、电子信息",
    ),
    _Written(
        "能源动力", 8, 1.05, "能源 新能源 电力 电气 动力 光伏科技",
        "电气工程师/电气工程 新能源研发工程师/能源研发 光伏工艺工程师/工艺工程 电厂运行值班员/电力运行 "
        "储能系统工程师/能源研发 风电运维工程师/设备运维 热能与动力工程师/动力工程 电网调度员/电力运行",
        "负责发电及储能设备的运行监控；参与新能源项目的技术方案设计；编制设备检修计划并组织实施",
        "电气工程、能源与动力工程",
    ),
    _Written(
        "材料化工", 7, 0.95, "化工 新材料 材料科技 化学 高分子材料",
        "化工工艺工程师/化工工艺 材料研发工程师/材料研发 质量检验员/质量管理 高分子材料工程师/材料研发 "
        "化学分析员/分析检测 安全环保工程师/安全环保 电池材料工程师/材料研发",
        "负责新材料配方研究与小试、中试；跟踪生产工艺参数并提出改进方案；完成原料及产品的检测分析",
        "化学工程、材料科学与工程",
    ),
    _Written(
        "装备制造", 10, 0.95, "机械 装备制造 重工 精密制造 机电 智能装备",
        "机械设计工程师/机械设计 工艺工程师/工艺工程 自动化工程师/自动化 数控技术员/生产制造 "
        "质量工程师/质量管理 设备维修工程师/设备运维 生产管理储备干部/生产管理 结构工程师/机械设计",
        "负责产品零部件的三维建模与图纸绘制；参与生产线工艺改进与自动化改造；处理现场质量问题并推动整改",
        "机械工程、自动化",
    ),
    _Written(
        "建筑地产", 7, 0.95, "建设 建筑工程 置业 房地产开发 工程 建工",
        "土木工程师/土木工程 施工员/工程施工 造价工程师/工程造价 建筑设计师/建筑设计 "
        "项目管理培训生/工程管理 BIM工程师/建筑设计 安全员/安全环保 置业顾问/房产销售",
        "参与项目现场施工管理与进度控制；编制工程量清单及预结算；协助完成施工图审核与技术交底",
        "土木工程、工程管理",
    ),
    _Written(
        "金融", 7, 1.15, "投资管理 融资租赁 证券 保险代理 资产管理 金融服务",
        "客户经理/金融销售 综合柜员/银行柜面 风险管理专员/风险管理 金融科技开发工程师/软件开发 "
        "投资分析师/投资研究 理财顾问/金融销售 审计专员/审计 管理培训生/综合管理",
        "负责客户开发与维护，提供综合金融服务；开展行业研究并撰写分析报告；参与信贷业务的风险识别与控制",
        "金融学、经济学、统计学",
    ),
    _Written(
        "教育培训", 5, 0.85, "教育科技 教育咨询 文化教育 职业技能培训",
        "小学语文教师/教师 初中数学教师/教师 英语教师/教师 课程顾问/教育咨询 教研专员/教研 学生辅导员/学生工作",
        "承担学科教学工作并完成备课、授课；参与课程体系与教学资料的研发；跟进学员学习情况并与家长沟通",
        "师范类、教育学",
    ),
    _Written(
        "医药卫生", 6, 1.0, "医药 生物科技 医疗器械 健康科技 药业",
        "临床研究协调员/临床研究 药物研发工程师/药物研发 医药代表/医药销售 护士/护理 药剂师/药学 "
        "医疗器械注册专员/法规事务 生物信息工程师/生物信息",
        "协助开展临床试验的组织与管理；负责药物合成路线的设计与优化；完成产品注册资料的整理与申报",
        "药学、临床医学、生物技术",
    ),
    _Written(
        "批发零售", 6, 0.8, "商贸 贸易 零售连锁 电子商务 供应链",
        "储备店长/门店管理 采购专员/采购 电商运营/电商运营 销售代表/销售 品类管理培训生/商品管理 客服专员/客户服务",
        "负责门店日常运营与团队管理；制定商品采购计划并跟进供应商；策划线上店铺活动并分析运营数据",
        "市场营销、工商管理",
    ),
    _Written(
        "交通物流", 5, 0.85, "物流 供应链管理 运输 国际货运代理 交通建设",
        "物流规划专员/物流管理 仓储主管（储备）/仓储管理 调度员/运输调度 供应链管理培训生/供应链 "
        "报关员/国际货运 轨道交通运营管理/交通运营",
        "负责仓储、配送网络的规划与优化；协调运输资源并跟踪在途货物；处理进出口报关及单证业务",
        "物流管理、交通运输",
    ),
    _Written(
        "现代农业", 3, 0.8, "农业科技 农业发展 种业 生态农业 农牧",
        "农艺师/农业技术 育种研发助理/育种研发 畜牧兽医技术员/畜牧兽医 农产品质量检测员/质量检测 "
        "农业技术推广员/农业技术",
        "开展作物品种选育与田间试验；指导种植基地的生产技术工作；负责农产品质量检测与追溯管理",
        "农学、植物保护、动物医学",
    ),
    _Written(
        "文化传媒", 4, 0.85, "文化传媒 广告 影视文化 传媒",
        "新媒体运营/新媒体 编辑/编辑出版 视频剪辑师/影视制作 广告策划/市场营销 记者/新闻采编",
        "负责新媒体账号的内容策划与运营；完成稿件采写、编辑与审校；参与品牌传播方案的策划与执行",
        "新闻传播、汉语言文学",
    ),
]  # fmt: skip
_INDUSTRIES = [written.read() for written in _WRITTEN_INDUSTRIES]

_REQUIREMENTS = [
    "具备良好的沟通能力和团队合作精神",
    "学习能力强，责任心强，能吃苦耐劳",
    "有相关实习经历者优先",
    "熟练使用办公软件，CET-4及以上",
    "在校期间成绩优良，获得奖学金者优先",
]
_BRAND = "华宏盛远恒新达明泰鼎瑞博汇嘉信诚云帆启智卓越海天润丰昌隆宇星辰蓝锐腾正和安富通立德凯晟峰源光联鑫东方易美优思睿捷拓航"
_SUFFIXES = ["有限公司"] * 6 + ["股份有限公司"] * 2 + ["有限责任公司", "集团有限公司"]
_NUMERALS = "一二三四五六七八九"
_STREETS = [
    "科技园路",
    "高新大道",
    "创业路",
    "人民路",
    "建设路",
    "中山路",
    "解放路",
    "长江路",
    "学府路",
    "滨江大道",
]
_EDUCATION = ("大专", "本科", "硕士", "博士")
_EDU_TEXT = {
    "大专": ["大专", "专科", "大专及以上"],
    "本科": ["本科", "本科及以上", "全日制本科", "学士"],
    "硕士": ["硕士", "硕士研究生", "硕士及以上"],
    "博士": ["博士", "博士研究生"],
}
_EDU_EN = {
    "大专": "associate degree",
    "本科": "bachelor degree",
    "硕士": "master degree",
    "博士": "doctoral degree",
}
_EDU_PAY = {"大专": (4000, 3000), "本科": (6000, 6000), "硕士": (9000, 9000), "博士": (14000, 14000)}
_EMPLOYMENT = ("FULL_TIME", "INTERN", "PART_TIME", "CONTRACTOR", "TEMPORARY")
_EMPLOYMENT_ZH = {
    "FULL_TIME": "全职",
    "INTERN": "实习",
    "PART_TIME": "兼职",
    "CONTRACTOR": "合同工",
    "TEMPORARY": "临时工",
}
# Openings per posting, one drawn per job: campus hiring, where a large employer's posting may take a
# few hundred graduates (52 on average, so the demo's feeds show a few percent of the positions the
# provinces report, as partner platforms do).
_OPENINGS = (1, 2, 3, 5, 5, 8, 10, 15, 20, 30, 50, 60, 80, 100, 150, 300)
_TITLE_FORMS = (
    "{}",
    "{}",
    "{}",
    "{}",
    "{}（2023届）",
    "2023届{}",
    "{}-2023届校招",
    "{} (2023届)",
    " {} ",
    "【校招】{}",
)


def _table(weights: Iterable[float], size: int = 4096) -> list[int]:
    """A lookup table of ``size`` indices, each appearing in proportion to its weight."""
    weights = list(weights)
    total = sum(weights)
    out: list[int] = []
    acc = 0.0
    for n, w in enumerate(weights):
        acc += w
        out.extend([n] * (round(acc / total * size) - len(out)))
    return out


_PROVINCE_TABLE = _table(unit_sizes.size(code) for code, _ in _PROVINCES)
_INDUSTRY_TABLE = _table(ind.weight for ind in _INDUSTRIES)
_EDU_TABLE = _table([12, 55, 27, 6])
_EMPLOYMENT_TABLE = _table([79, 13, 3, 3, 2])
_CODE_CHARS = creditcode.CHARSET


def _short_city(city: str) -> str:
    return city[:-1] if city.endswith("市") and len(city) > 2 else city


def _check_json_safe() -> None:
    """Pools are embedded in JSON without escaping: none may hold a quote, backslash or control char."""
    texts: list[str] = [_BRAND, *_STREETS, *_REQUIREMENTS, *_SUFFIXES, *_TITLE_FORMS]
    for _, cities in _PROVINCES:
        texts += [c for c, _ in cities]
    for ind in _INDUSTRIES:
        texts += [ind.name, ind.majors, *ind.words, *ind.duties, *(t for pair in ind.titles for t in pair)]
    for text in texts:
        if any(c in text for c in '"\\') or any(ord(c) < 32 for c in text):
            raise RuntimeError(f"pool text {text!r} is not JSON-safe")


_check_json_safe()

# --------------------------------------------------------------------------------------------- time


_DAYS: dict[int, str] = {}
_HHMM = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
_SS = [f"{s:02d}" for s in range(60)]


def _day(n: int) -> str:
    text = _DAYS.get(n)
    if text is None:
        text = _DAYS[n] = date.fromordinal(719163 + n).isoformat()
    return text


def _clock(sec: int) -> str:
    return _HHMM[sec // 60] + ":" + _SS[sec % 60]


def _iso_bj(ts: int) -> str:
    local = ts + _BJ
    return _day(local // 86400) + "T" + _clock(local % 86400) + "+08:00"


def _iso_z(ts: int) -> str:
    return _day(ts // 86400) + "T" + _clock(ts % 86400) + "Z"


def _iso_bj_ms(ts: int) -> str:
    local = ts + _BJ
    return _day(local // 86400) + "T" + _clock(local % 86400) + ".000+08:00"


def _naive_bj(ts: int) -> str:
    local = ts + _BJ
    return _day(local // 86400) + " " + _clock(local % 86400)


_MODIFIED_FORMATS = (_iso_bj, _iso_z, _iso_bj_ms)
_FLAT_FIELDS = (
    "posting_id", "title", "employer_name", "employer_credit_code", "region", "city", "salary", "date_posted",
    "valid_through", "employment_type", "education", "industry", "openings", "description", "url", "modified_at",
)  # fmt: skip


def _to_utc(value: datetime | str, what: str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError(f"{what} needs a time zone offset")
    return value.astimezone(UTC)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


# --------------------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class _Platform:
    code: str
    name: str
    adapter: str
    page_size: int
    prefix: str
    shift: int
    modified: Any  # formats dateModified
    keys: dict[str, str]  # canonical name -> key of the flat shape


def _json_text(text: str) -> str:
    """``text`` escaped to sit between the quotes of a JSON string."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _hash(text: str) -> tuple[int, ...]:
    return struct.unpack("<32H", hashlib.blake2b(text.encode(), digest_size=64).digest())


@dataclass(frozen=True)
class _Plan:
    """What every platform's postings derive from: ``volume`` postings each, ``dateModified`` spread over
    [start, end), ``repost_variation`` the share of reposts written so that only fuzzy matching finds them."""

    seed: int
    volume: int
    start: datetime
    end: datetime
    repost_variation: float = 0.0


_FEED_START = datetime(2022, 11, 1, tzinfo=UTC)
_FEED_END = datetime(2023, 1, 1, tzinfo=UTC)


class _Generator:
    """Derives every posting of every platform from (seed, platform, index)."""

    def __init__(self, platforms: list[Any], plan: _Plan, universe: Iterable[str]):
        self.plan = plan
        seed, volume, start, end = plan.seed, plan.volume, plan.start, plan.end
        repost_variation = plan.repost_variation
        if volume < 1:
            raise ValueError("postings_per_platform must be at least 1")
        if not 0.0 <= repost_variation <= 1.0:
            raise ValueError("repost_variation must be a share from 0 to 1")
        self.variation_cut = round(repost_variation * 65536)
        self.seed = seed
        self.volume = volume
        self.start = int(_to_utc(start, "start").timestamp())
        self.end = int(_to_utc(end, "end").timestamp())
        if self.end <= self.start:
            raise ValueError("end must be after start")
        self.span = self.end - self.start
        # shared jobs are laid out over every known platform, so a platform's postings do not depend on
        # which other platforms this simulator serves
        codes = sorted(set(universe) | {p.code for p in platforms})
        self.platforms: dict[str, _Platform] = {}
        for p in platforms:
            rank = codes.index(p.code)
            keys = {name: name for name in _FLAT_FIELDS}
            if p.adapter == "flat":
                keys.update({k: _json_text(v) for k, v in (p.field_map or {}).items()})
            self.platforms[p.code] = _Platform(
                code=p.code,
                name=_json_text(p.name),
                adapter=p.adapter,
                page_size=p.page_size,
                prefix=p.code[:2].upper(),
                shift=DUP_EVERY * ((rank * volume) // (97 * DUP_EVERY)),
                modified=_MODIFIED_FORMATS[_hash(f"{seed}:fmt:{p.code}")[0] % 3],
                keys=keys,
            )
        self.shared_span = DUP_EVERY * (volume // DUP_EVERY)
        self.partitions = self._partitions(codes)
        self.employer_cache: dict[int, tuple] = {}

    def _partitions(self, codes: list[str]) -> list[dict[str, tuple[int, tuple[str, ...]]]]:
        """Ways to split the platforms into groups of 2-3 that share a job."""
        out = []
        for k in range(_PARTITIONS):
            rnd = random.Random(f"{self.seed}:groups:{k}")
            order = list(codes)
            rnd.shuffle(order)
            mapping: dict[str, tuple[int, tuple[str, ...]]] = {}
            pos, left, number = 0, len(order), 0
            while left >= 2:
                size = left if left in (2, 3) else 2 if left == 4 else rnd.choice((2, 3))
                group = tuple(order[pos : pos + size])
                for code in group:
                    mapping[code] = (number, group)
                pos, left, number = pos + size, left - size, number + 1
            out.append(mapping)
        return out

    # -- index arithmetic

    def modified_ts(self, code: str, i: int) -> int:
        """Epoch seconds of posting ``i``'s dateModified: non-decreasing in ``i``, in [start, end)."""
        u = _hash(f"{self.seed}:{code}:{i}")[31]
        return self.start + (((i << 16) + u) * self.span) // (self.volume << 16)

    def first_index_at(self, code: str, micros: int) -> int:
        """The smallest index whose dateModified is at or after ``micros`` (volume when none)."""
        lo, hi = 0, self.volume
        while lo < hi:
            mid = (lo + hi) // 2
            if self.modified_ts(code, mid) * 1_000_000 >= micros:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def index_range(self, code: str, since: datetime | None, until: datetime | None) -> tuple[int, int]:
        lo = 0 if since is None else self.first_index_at(code, _micros(since))
        hi = self.volume if until is None else self.first_index_at(code, _micros(until))
        return lo, max(lo, hi)

    def identifier(self, code: str, i: int) -> str:
        return f"{self.platforms[code].prefix}{i:010d}"

    def index_of(self, code: str, identifier: str) -> int:
        plat = self.platforms[code]
        digits = identifier[len(plat.prefix) :]
        if not identifier.startswith(plat.prefix) or len(digits) != 10 or not digits.isdigit():
            raise KeyError(f"{identifier!r} is not a posting identifier of {code}")
        i = int(digits)
        if i >= self.volume:
            raise KeyError(f"{identifier!r}: no such posting on {code}")
        return i

    def job_of(self, code: str, i: int) -> tuple[str, str]:
        """The job behind posting ``i``: (cluster key, hash key). Shared jobs have keys like ``s12.3``."""
        plat = self.platforms[code]
        if i < self.shared_span:
            j = (i - plat.shift) % self.shared_span
            if j % DUP_EVERY == 0:
                slot = j // DUP_EVERY
                part = self.partitions[((slot * 2654435761 + self.seed) & 0xFFFFFFFF) >> 26]
                hit = part.get(code)
                if hit is not None:
                    key = f"s{slot}.{hit[0]}"
                    return key, key
        return f"u.{code}.{i}", f"{code}.{i}"

    def members(self, job_key: str) -> list[tuple[str, int]]:
        """Every (platform, index) showing the job ``job_key``."""
        if job_key.startswith("u."):
            _, code, i = job_key.split(".")
            return [(code, int(i))]
        slot_text, group_text = job_key[1:].split(".")
        slot, group = int(slot_text), int(group_text)
        part = self.partitions[((slot * 2654435761 + self.seed) & 0xFFFFFFFF) >> 26]
        codes = sorted({c for c, (g, _) in part.items() if g == group and c in self.platforms})
        return [(c, (DUP_EVERY * slot + self.platforms[c].shift) % self.shared_span) for c in codes]

    # -- content

    def employer(self, e: int) -> tuple:
        """(name, credit code, industry index, province index, city index)."""
        hit = self.employer_cache.get(e)
        if hit is not None:
            return hit
        h = _hash(f"{self.seed}:employer:{e}")
        ind = _INDUSTRY_TABLE[h[0] >> 4]
        prov = _PROVINCE_TABLE[h[1] >> 4]
        unit, cities = _PROVINCES[prov]
        city_i = h[2] % len(cities)
        city, division4 = cities[city_i]
        industry = _INDUSTRIES[ind]
        first = h[3] % len(_BRAND)
        brand = _BRAND[first] + _BRAND[(first + 1 + h[4] % (len(_BRAND) - 1)) % len(_BRAND)]
        word = industry.words[h[5] % len(industry.words)]
        suffix = _SUFFIXES[h[6] % len(_SUFFIXES)]
        authority = "91"
        pattern = h[7] % 20
        short = _short_city(city)
        if industry.name == "医药卫生" and pattern < 3:
            authority, name = "12", f"{short}市第{_NUMERALS[h[8] % 9]}人民医院"
        elif industry.name == "教育培训" and pattern < 4:
            authority, name = "12", f"{short}{brand}实验学校"
        elif industry.name == "现代农业" and pattern < 4:
            authority, name = "93", f"{short}{brand}{word}专业合作社"
        elif pattern < 11:
            name = f"{short}{brand}{word}{suffix}"
        elif pattern < 15:
            name = f"{brand}{word}{suffix}"
        elif pattern < 18:
            name = f"{_PROVINCE_NAMES[unit]}{brand}{word}{suffix}"
        else:
            name = f"中{brand[0]}{word}集团有限公司"
        code = creditcode.make(authority, _division(unit, division4, city_i, h), _credit_body(h))
        out = (name, code, ind, prov, city_i)
        if len(self.employer_cache) > 50_000:
            self.employer_cache.clear()
        self.employer_cache[e] = out
        return out

    def render(self, code: str, i: int, truth: dict | None = None) -> str:
        """Posting ``i`` of ``code`` as compact JSON text; fills ``truth`` with the intended values."""
        plat = self.platforms[code]
        seed = self.seed
        p = _hash(f"{seed}:{code}:{i}")
        job_key, hash_key = self.job_of(code, i)
        j = _hash(f"{seed}:job:{hash_key}")

        # job-level facts, the same on every platform showing the job
        emp_name, credit, ind, prov, city_i = self.employer(((j[0] << 16) | j[1]) % EMPLOYER_POOL)
        industry, _, pay_factor, _, titles, duties, major = _INDUSTRIES[ind]
        if j[2] % 100 < 15:
            prov = _PROVINCE_TABLE[j[3] >> 4]
            city_i = j[4] % len(_PROVINCES[prov][1])
        unit, cities = _PROVINCES[prov]
        city = cities[city_i][0]
        base_title, occupation = titles[j[5] % len(titles)]
        edu = _EDUCATION[_EDU_TABLE[j[6] >> 4]]
        etype = _EMPLOYMENT[_EMPLOYMENT_TABLE[j[7] >> 4]]
        openings = _OPENINGS[j[8] % 16]
        unit_text, lo, hi = _pay(j, etype, edu, unit, pay_factor)

        # posting-level facts, different on every repost
        defect = DEFECTS[p[1] % 3] if p[0] < DEFECT_PER_65536 else None
        title = _TITLE_FORMS[p[2] % len(_TITLE_FORMS)].format(base_title) if job_key[0] == "s" else base_title
        if job_key[0] == "u" and p[2] % 10 == 4:
            title = base_title + "（2023届）"
        if unit_text == "MONTH" and p[3] % 4 == 0:
            lo, hi = round(lo / 1000) * 1000 or 1000, round(hi / 1000) * 1000 or 1000
        modified = self.start + (((i << 16) + p[31]) * self.span) // (self.volume << 16)
        posted = modified - (p[13] % 30) * 86400 - p[14]
        posted_day = (posted + _BJ) // 86400
        valid_day = posted_day + 30 + p[15] % 91
        ident = f"{plat.prefix}{i:010d}"
        url = f"https://{code}.example/job/{ident}.html"
        names = _UNIT_NAMES[unit]
        region = names[0] if p[11] % 5 < 3 else names[1 + p[11] % (len(names) - 1)]
        locality = city if p[12] % 3 else _short_city(city)
        description = (
            f"<p><strong>岗位职责：</strong></p><ul><li>{duties[p[16] % 3]}；</li><li>{duties[(p[16] + 1) % 3]}。"
            f"</li></ul><p><strong>任职要求：</strong></p><ul><li>{edu}及以上学历，{major}等相关专业，"
            f"2023届毕业生；</li><li>{_REQUIREMENTS[p[17] % 5]}。</li></ul>"
            f"<p>工作地点：{city}&nbsp;|&nbsp;招聘人数：{openings}人<br/>福利：五险一金、带薪年假</p>"
        )
        salary_form, s_lo, s_hi, salary_unit = _salary(
            p[5] % 20, defect, plat.adapter == "flat", (unit_text, lo, hi)
        )
        if job_key[0] == "s" and p[29] < self.variation_cut:
            # what some platforms do to a repost: no credit code, no city, or the place in the title
            credit, locality, title = _vary_repost(p[30] % 3, (credit, locality, title), city)
        if defect == "bad_credit_code" and credit is not None:
            credit = credit[:17] + _CODE_CHARS[(_CODE_CHARS.index(credit[17]) + 1 + p[18] % 30) % 31]
        if defect == "missing_title":
            title = None if p[19] % 2 else ""

        f = _Facts(
            ident, title, emp_name, credit, region, locality, salary_form, s_lo, s_hi, salary_unit, posted,
            posted_day, valid_day, etype, edu, industry, occupation, openings, description, url, modified,
        )  # fmt: skip
        if truth is not None:
            truth.update(
                posting_id=ident,
                title=title,
                base_title=base_title,
                employer_name=emp_name,
                employer_credit_code=credit,
                province_code=unit,
                city=city,
                industry=industry,
                occupation=occupation,
                education=edu,
                employment_type=etype,
                salary_min=s_lo,
                salary_max=s_hi,
                salary_unit=salary_unit,
                openings=openings,
                date_posted=_iso_bj(posted),
                valid_through=_day(valid_day) + "T23:59:59+08:00",
                modified_at=datetime.fromtimestamp(modified, UTC),
                url=url,
                job_key=job_key,
                defect=defect,
            )
        return _flat(plat, p, f) if plat.adapter == "flat" else _jsonld(plat, p, f)


def _division(unit: str, division4: str, city_i: int, h: tuple[int, ...]) -> str:
    """The six-digit administrative division of an employer's credit code."""
    if unit == "660000":
        return division4 + ("01", "02", "04")[city_i]
    return division4 + f"{1 + h[9] % 12:02d}"


def _credit_body(h: tuple[int, ...]) -> str:
    """The organisation part of a credit code: a newer ``MA…`` one or eight digits."""
    if h[10] % 2:
        return "MA" + "".join(_CODE_CHARS[h[11 + k] % 31] for k in range(6))
    return "".join(str(h[11 + k] % 10) for k in range(8))


def _pay(j: tuple[int, ...], etype: str, edu: str, unit: str, pay_factor: float) -> tuple[str, int, int]:
    """A job's pay: (unit, low, high), by employment type, education, region and industry."""
    if etype == "PART_TIME":
        lo = 20 + (j[9] % 9) * 5
        return "HOUR", lo, lo + 5 + (j[10] % 4) * 5
    if etype == "TEMPORARY":
        lo = 800 + (j[9] % 8) * 100
        return "WEEK", lo, lo + (j[10] % 4) * 200
    if etype == "INTERN" and j[11] % 5 < 3:
        lo = 100 + (j[9] % 11) * 20
        return "DAY", lo, lo + (j[10] % 4) * 50
    if etype == "INTERN":
        lo = 3000 + (j[9] % 7) * 500
        return "MONTH", lo, lo + 1000 + (j[10] % 3) * 500
    floor, width = _EDU_PAY[edu]
    tier = 1.2 if unit in _TIER1 else 1.05 if unit in _TIER2 else 0.9
    lo = int((floor + (j[9] % 16) * width / 16) * pay_factor * tier / 500) * 500
    return "MONTH", lo, int(lo * (1.2 + (j[10] % 7) / 10) / 500) * 500


def _salary(
    salary_form: int, defect: str | None, flat: bool, pay: tuple[str, int, int]
) -> tuple[int, int | None, int | None, str | None]:
    """How a posting states its pay: (form, low, high, unit); see :class:`_Facts` for the forms."""
    unit_text, lo, hi = pay
    if defect == "salary_text":
        return -1, None, None, None
    if (unit_text != "MONTH" and salary_form < 2) or (flat and salary_form >= 16):
        salary_form = 2
    if salary_form < 2 or 13 <= salary_form < 16:  # single amount
        single = (lo + hi) // 2 // 100 * 100 if unit_text == "MONTH" else lo
        return salary_form, single, single, unit_text
    if salary_form >= 16 and unit_text == "MONTH":
        return salary_form, lo * 12, hi * 12, "YEAR"
    return salary_form, lo, hi, unit_text


def _vary_repost(
    kind: int, said: tuple[str | None, str | None, str | None], city: str
) -> tuple[str | None, str | None, str | None]:
    """(credit code, locality, title) of a repost as some platforms write it: without the credit code
    (``kind`` 0), without the city (1), or with the place in the title (2)."""
    credit, locality, title = said
    if kind == 0:
        credit = None
    elif kind == 1:
        locality = None
    elif title:
        title = f"{title}（{_short_city(city)}）"
    return credit, locality, title


class _Facts(NamedTuple):
    """What a posting says, before it is written in a platform's shape."""

    ident: str
    title: str | None
    emp_name: str
    credit: str | None
    region: str
    locality: str
    salary_form: int  # -1: text, 0: number, 1: numeric string, 2-12 and 16+: range, 13-15: single value
    s_lo: int | None
    s_hi: int | None
    salary_unit: str | None
    posted: int
    posted_day: int
    valid_day: int
    etype: str
    edu: str
    industry: str
    occupation: str
    openings: int
    description: str
    url: str
    modified: int


def _jsonld_employment(etype: str, ef: int) -> str:
    """``employmentType`` in one of the ways markup writes it (``ef``: 0-9 from the posting hash)."""
    if ef < 5:
        return f'"{etype}"'
    if ef < 7:
        return f'"{etype.lower()}"'
    if ef == 7:
        return f'"{etype.capitalize()}"'
    if ef == 8:
        return f'["{etype}"]'
    if etype == "INTERN":
        return '["INTERN","FULL_TIME"]'
    return f'["{etype.lower()}"]'


def _jsonld_location(place: str, p: tuple[int, ...]) -> str:
    """``jobLocation``: the place, a list of it, or a list with a second place after the main one."""
    lf = p[7] % 10
    if lf < 7:
        return place
    if lf < 9:
        return f"[{place}]"
    other_unit, other_cities = _PROVINCES[_PROVINCE_TABLE[p[23] >> 4]]
    other_city = other_cities[p[24] % len(other_cities)][0]
    return (
        f'[{place},{{"@type":"Place","address":{{"@type":"PostalAddress","addressLocality":'
        f'"{other_city}","addressRegion":"{_UNIT_NAMES[other_unit][0]}","addressCountry":"CN"}}}}]'
    )


def _jsonld_salary(f: _Facts, p: tuple[int, ...]) -> str:
    """``baseSalary``: text, a number, a numeric string or a MonetaryAmount."""
    form = f.salary_form
    if form < 0:
        return '"面议"'
    if form == 0:
        return str(f.s_lo)
    if form == 1:
        return f'"{f.s_lo}"'
    unit = f.salary_unit.lower() if p[25] % 5 == 0 else f.salary_unit
    value = f'"value":{f.s_lo}' if 13 <= form < 16 else f'"minValue":{f.s_lo},"maxValue":{f.s_hi}'
    return (
        f'{{"@type":"MonetaryAmount","currency":"CNY","value":{{"@type":"QuantitativeValue",'
        f'{value},"unitText":"{unit}"}}}}'
    )


def _jsonld_education(edu: str, p: tuple[int, ...]) -> str:
    """``educationRequirements``: Chinese text, the English category, or a credential object."""
    eform = p[10] % 20
    if eform < 12:
        texts = _EDU_TEXT[edu]
        return f'"{texts[p[26] % len(texts)]}"'
    if eform < 14:
        return f'"{_EDU_EN[edu]}"'
    category = _EDU_EN[edu] if eform < 19 else edu
    return f'{{"@type":"EducationalOccupationalCredential","credentialCategory":"{category}"}}'


def _jsonld(plat: _Platform, p: tuple[int, ...], f: _Facts) -> str:
    """A schema.org JobPosting, in one of the shapes real markup has (chosen by the posting hash)."""
    if p[4] % 5 < 3:
        ident = f'{{"@type":"PropertyValue","name":"{plat.name}","value":"{f.ident}"}}'
    else:
        ident = f'"{f.ident}"'
    title = "" if f.title is None else f',"title":"{f.title}"'
    posted = _day(f.posted_day) if p[20] % 2 else _iso_bj(f.posted)
    vt = p[9] % 10
    valid = _day(f.valid_day) + ("T23:59:59+08:00" if vt < 5 else "T23:59:59" if vt < 8 else "")
    etype_json = _jsonld_employment(f.etype, p[6] % 10)
    if f.credit is None:
        org_ident = ""
    elif p[8] % 2:
        org_ident = (
            f',"identifier":{{"@type":"PropertyValue","name":"统一社会信用代码","value":"{f.credit}"}}'
        )
    else:
        org_ident = f',"identifier":"{f.credit}"'
    locality = "" if f.locality is None else f'"addressLocality":"{f.locality}",'
    place = (
        f'{{"@type":"Place","address":{{"@type":"PostalAddress","streetAddress":"{_STREETS[p[21] % 10]}'
        f'{1 + p[22] % 299}号",{locality}"addressRegion":"{f.region}",'
        f'"addressCountry":"CN"}}}}'
    )
    location = _jsonld_location(place, p)
    salary = _jsonld_salary(f, p)
    edu = _jsonld_education(f.edu, p)
    return (
        f'{{"@context":"https://schema.org","@type":"JobPosting","identifier":{ident}{title},'
        f'"description":"{f.description}","datePosted":"{posted}","validThrough":"{valid}",'
        f'"employmentType":{etype_json},"hiringOrganization":{{"@type":"Organization","name":"{f.emp_name}"'
        f'{org_ident}}},"jobLocation":{location},"baseSalary":{salary},'
        f'"educationRequirements":{edu},"industry":"{f.industry}","occupationalCategory":"{f.occupation}",'
        f'"totalJobOpenings":{f.openings},"url":"{f.url}","dateModified":"{plat.modified(f.modified)}"}}'
    )


def _flat(plat: _Platform, p: tuple[int, ...], f: _Facts) -> str:
    """The flat shape: canonical names renamed by the platform's field_map, salary as text."""
    lo, hi, unit = f.s_lo, f.s_hi, f.salary_unit
    if f.salary_form < 0:
        salary = "面议"
    elif unit == "HOUR":
        salary = f"{lo}元/小时" if lo == hi else f"{lo}-{hi}元/小时"
    elif unit in ("DAY", "WEEK"):
        per = "天" if unit == "DAY" else "周"
        salary = f"{lo}元/{per}" if lo == hi else f"{lo}-{hi}元/{per}"
    else:
        form = p[27] % 4
        if lo == hi:
            salary = f"{lo}元/月"
        elif form == 0:
            salary = f"{lo}-{hi}元/月"
        elif form == 1:
            salary = f"{_wan(lo)}-{_wan(hi)}/月"
        elif form == 2 and lo % 1000 == 0 and hi % 1000 == 0:
            salary = f"{lo // 1000}-{hi // 1000}K·{13 + p[28] % 3}薪"
        else:
            salary = f"{lo / 1000:g}-{hi / 1000:g}K"
    k = plat.keys
    texts = _EDU_TEXT[f.edu]
    return (
        f'{{"{k["posting_id"]}":"{f.ident}",'
        + ("" if f.title is None else f'"{k["title"]}":"{f.title}",')
        + f'"{k["employer_name"]}":"{f.emp_name}",'
        + ("" if f.credit is None else f'"{k["employer_credit_code"]}":"{f.credit}",')
        + f'"{k["region"]}":"{f.region}",'
        + ("" if f.locality is None else f'"{k["city"]}":"{f.locality}",')
        + f'"{k["salary"]}":"{salary}",'
        f'"{k["date_posted"]}":"{_naive_bj(f.posted)}","{k["valid_through"]}":"{_day(f.valid_day)} 23:59:59",'
        f'"{k["employment_type"]}":"{_EMPLOYMENT_ZH[f.etype]}","{k["education"]}":"{texts[p[26] % len(texts)]}",'
        f'"{k["industry"]}":"{f.industry}","{k["openings"]}":{f.openings},'
        f'"{k["description"]}":"{f.description}","{k["url"]}":"{f.url}",'
        f'"{k["modified_at"]}":"{_naive_bj(f.modified)}"}}'
    )


def _wan(amount: int) -> str:
    """8000 → 8千, 12000 → 1.2万, as Chinese job boards write amounts."""
    return f"{amount / 10000:g}万" if amount >= 10000 else f"{amount / 1000:g}千"


def _unit_names() -> dict[str, list[str]]:
    from recruitment_month import config

    return {u.code: [u.name, *(u.short_names or [u.name])] for u in config.units().units}


_UNIT_NAMES = _unit_names()
_PROVINCE_NAMES = {code: "新疆" if code == "660000" else names[1] for code, names in _UNIT_NAMES.items()}


# --------------------------------------------------------------------------------------------- faults

FAULTS: dict[str, dict[str, Any]] = {
    "http_500": {"times": 2, "every": 0, "status": 500},
    "rate_limit_429": {"times": 2, "retry_after": 1},
    "timeout": {"times": 2, "seconds": 5.0},
    "truncated_body": {"times": 2, "mode": "short"},
    "html_error_200": {"times": 2},
    "repeat_page": {"page": 2, "times": 1},
    "repeat_posting": {"page": 2, "times": 1},
    "renamed_field": {"from": None, "to": None},
    "gzip_bomb": {"times": 1, "inflated_bytes": 300_000_000},
    "drip": {"times": 1, "interval": 2.0},
    "endless_cursor": {},
    "control_characters": {"every": 10},
    "bad_credit_codes": {},
    "bare_salary": {"unit": "YEAR"},
}
"""Fault names and their options with defaults.

The failing faults (timeout, rate_limit_429, http_500, html_error_200, truncated_body, consulted in that
order, at most one per request) hit the first ``times`` requests to the platform's ``/jobs`` after being
set; http_500 with ``every`` > 0 fails every Nth request instead. ``timeout`` waits ``seconds`` and then
answers normally. ``truncated_body`` cuts the body in half: mode ``short`` declares the cut length
(invalid JSON), ``reset`` declares the full length and closes the connection. repeat_page and
repeat_posting act ``times`` times from the ``page``-th page served. renamed_field renames the top-level
item key ``from`` to ``to`` (default: the title) until cleared.

Faults against the client's limits: ``gzip_bomb`` answers the first ``times`` requests with a gzip body
(``Content-Encoding: gzip``, a few hundred kB) that inflates to ``inflated_bytes`` (the page, then
spaces: valid JSON); ``drip`` sends the first ``times`` answers one byte every ``interval`` seconds (each
read is quick, the answer never ends); ``endless_cursor`` never answers ``next_cursor: null`` (past the
window's last page it serves that page again under a new cursor each time).

Faults in the postings, until cleared: ``control_characters`` puts NUL, ESC and NEL into the title and
the description of every ``every``-th posting; ``bad_credit_codes`` gives every credit code a wrong
check character; ``bare_salary`` writes a monthly salary as a bare number in ``unit`` (YEAR: twelve
months' pay, as ``baseSalary: 72000``)."""
_FAILING = ("timeout", "rate_limit_429", "http_500", "html_error_200", "truncated_body", "gzip_bomb", "drip")
_HTML_ERROR = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>系统繁忙</title></head>"
    "<body><h1>系统繁忙，请稍后再试</h1><p>Service temporarily unavailable.</p></body></html>"
).encode()


@dataclass
class _Fault:
    name: str
    options: dict[str, Any]
    seen: int = 0
    fired: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"options": dict(self.options), "seen": self.seen, "fired": self.fired}


def _fault_options(platform: _Platform, fault: str, options: dict[str, Any]) -> dict[str, Any]:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
    options = dict(options)
    if "from_" in options:
        options["from"] = options.pop("from_")
    unknown = set(options) - set(FAULTS[fault])
    if unknown:
        raise ValueError(f"fault {fault} has no option {', '.join(sorted(unknown))}")
    merged = {**FAULTS[fault], **options}
    if fault == "renamed_field":
        merged["from"] = merged["from"] or platform.keys["title"]
        merged["to"] = merged["to"] or ("position_name" if platform.adapter == "flat" else "name")
    if fault == "truncated_body" and merged["mode"] not in ("short", "reset"):
        raise ValueError("truncated_body mode is 'short' or 'reset'")
    if fault == "bare_salary" and merged["unit"] not in ("HOUR", "DAY", "WEEK", "MONTH", "YEAR"):
        raise ValueError("bare_salary unit is HOUR, DAY, WEEK, MONTH or YEAR")
    if fault == "control_characters" and merged["every"] < 1:
        raise ValueError("control_characters every must be at least 1")
    for key in ("times", "every", "page", "status", "retry_after", "inflated_bytes"):
        if key in merged and (not isinstance(merged[key], int) or merged[key] < 0):
            raise ValueError(f"fault {fault} option {key} must be a non-negative integer")
    return merged


# --------------------------------------------------------------------------------------------- server


class _BadRequest(ValueError):
    pass


def _encode_cursor(code: str, index: int, serial: int = 0) -> str:
    text = f"{code}:{index}" if not serial else f"{code}:{index}:{serial}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(code: str, cursor: str, volume: int) -> tuple[int, int]:
    """(index, serial): serial counts the pages an endless cursor chain has served again."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        owner, index_text, *serial_text = text.split(":")
        index = int(index_text)
        serial = int(serial_text[0]) if len(serial_text) == 1 else 0
        if len(serial_text) > 1:
            raise ValueError(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _BadRequest("cursor is not valid") from None
    if owner != code or not 0 <= index <= volume:
        raise _BadRequest("cursor is not valid for this platform")
    return index, serial


def _parse_time(name: str, values: list[str] | None) -> datetime | None:
    if not values:
        return None
    text = values[-1].strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        head, _, tail = text.rpartition(" ")  # a '+' that arrived unencoded as a space
        try:
            moment = datetime.fromisoformat(f"{head}+{tail}") if head else None
        except ValueError:
            moment = None
        if moment is None:
            raise _BadRequest(f"{name} is not an ISO-8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise _BadRequest(f"{name} needs a time zone offset: {text!r}")
    return moment.astimezone(UTC)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sim: FeedSimulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (as one does on a bomb or a drip) is no error of the simulator's."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s hung up", client_address)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FeedSimulator/1.0"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- plumbing

    def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8",
              headers: dict[str, str] | None = None, declared: int | None = None) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if declared is None else declared))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drip(self, body: bytes, interval: float) -> None:
        """The answer's head at once, then its body one byte every ``interval`` seconds (until the client
        goes or the simulator stops)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for n in range(len(body)):
                self.wfile.write(body[n : n + 1])
                self.wfile.flush()
                if self.server.sim._stopping.wait(interval):
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should
        self.close_connection = True

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"error": HTTPStatus(status).phrase, "message": message}, headers)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise _BadRequest("the body is not JSON") from None

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            query = parse_qs(url.query)
            sim = self.server.sim
            if method == "GET" and parts == ["health"]:
                self._json(200, {"status": "ok", "platforms": sorted(sim.platform_codes)})
            elif method == "GET" and len(parts) == 3 and parts[0] == "p" and parts[2] == "jobs":
                self._jobs(parts[1], query)
            elif parts == ["admin", "faults"]:
                self._admin_faults(method, query)
            elif method == "GET" and parts == ["admin", "stats"]:
                self._json(200, sim.stats())
            else:
                self._error(404, f"no route {method} {url.path}")
        except _BadRequest as exc:
            self._error(400, str(exc))
        except Exception:
            log.exception("feed simulator failed on %s %s", method, self.path)
            self._error(500, "unexpected error in the simulator")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- routes

    def _admin_faults(self, method: str, query: dict[str, list[str]]) -> None:
        sim = self.server.sim
        if method == "GET":
            self._json(200, sim.faults())
        elif method == "POST":
            body = self._body()
            if not isinstance(body, dict) or "platform" not in body or "fault" not in body:
                raise _BadRequest('expected {"platform": ..., "fault": ..., "options": {...}}')
            options = body.get("options") or {}
            if not isinstance(options, dict):
                raise _BadRequest("options must be an object")
            try:
                sim.set_fault(body["platform"], body["fault"], **options)
            except (KeyError, ValueError) as exc:
                raise _BadRequest(str(exc).strip("'\"")) from None
            self._json(200, sim.faults())
        elif method == "DELETE":
            body = self._body()
            code = (query.get("platform") or [None])[-1] or (
                body.get("platform") if isinstance(body, dict) else None
            )
            try:
                sim.clear_faults(code)
            except KeyError as exc:
                raise _BadRequest(str(exc).strip("'\"")) from None
            self._json(200, sim.faults())
        else:
            self._error(405, f"{method} is not allowed here")

    def _jobs(self, code: str, query: dict[str, list[str]]) -> None:
        sim = self.server.sim
        gen = sim._gen
        plat = gen.platforms.get(code)
        if plat is None:
            self._error(404, f"no platform {code!r}")
            return
        if self.headers.get("Authorization", "") != f"Bearer {sim.token}":
            self._error(401, "a valid bearer token is required", {"WWW-Authenticate": 'Bearer realm="jobs"'})
            return
        since, until, limit = _page_query(query, plat)
        after, serial = (
            _decode_cursor(code, query["cursor"][-1], gen.volume) if query.get("cursor") else (0, 0)
        )

        failing, shaping = sim._consult(code)
        if failing is not None and self._fail_instead(failing):
            return

        lo, hi = gen.index_range(code, since, until)
        first = max(lo, after)
        last = min(hi, first + limit)
        items = [_shaped(gen, plat, i, shaping) for i in range(first, last)]
        next_index = last if last < hi else None
        truncated = failing is not None and failing[0] == "truncated_body"
        if not truncated:
            next_index = _repeated(sim._pages(code, shaping), next_index, (first, last))
        renamed = shaping.get("renamed_field")
        if renamed:
            items = [_rename(text, renamed["from"], renamed["to"]) for text in items]
        if "endless_cursor" in shaping:  # past the last page: that page again, under a new cursor
            cursor = f'"{_encode_cursor(code, first if next_index is None else next_index, serial + 1)}"'
        else:
            cursor = "null" if next_index is None else f'"{_encode_cursor(code, next_index)}"'
        body = ('{"data":[' + ",".join(items) + '],"next_cursor":' + cursor + "}").encode()
        sim._served(code, len(items))
        self._send_page(body, failing)

    def _fail_instead(self, failing: tuple[str, dict]) -> bool:
        """Answer as the request fault ``failing`` says, if it replaces the page; True when it did. A
        timeout only waits (the page follows, unless the simulator stops meanwhile)."""
        name, options = failing
        if name == "timeout":
            self.server.sim._stopping.wait(float(options["seconds"]))
        elif name == "rate_limit_429":
            self._error(429, "too many requests", {"Retry-After": str(options["retry_after"])})
            return True
        elif name == "http_500":
            status = options["status"] if 500 <= options["status"] <= 599 else 500
            self._error(status, "the platform failed")
            return True
        elif name == "html_error_200":
            self._send(200, _HTML_ERROR, "text/html; charset=utf-8")
            return True
        return False

    def _send_page(self, body: bytes, failing: tuple[str, dict] | None) -> None:
        """The page's body, as the fault that shapes the response (if any) sends it."""
        if failing is not None and failing[0] == "gzip_bomb":
            bomb = _gzip_bomb(body, failing[1]["inflated_bytes"])
            self._send(200, bomb, headers={"Content-Encoding": "gzip"})
            return
        if failing is not None and failing[0] == "drip":
            self._drip(body, float(failing[1]["interval"]))
            return
        if failing is not None and failing[0] == "truncated_body":
            cut = body[: max(1, len(body) // 2)]
            if failing[1]["mode"] == "reset":
                self.close_connection = True
                self._send(200, cut, declared=len(body))
            else:
                self._send(200, cut)
            return
        self._send(200, body)


def _page_query(query: dict[str, list[str]], plat: _Platform) -> tuple[datetime | None, datetime | None, int]:
    """The window (updated_since, updated_until) and the page size a request asks for."""
    since = _parse_time("updated_since", query.get("updated_since"))
    until = _parse_time("updated_until", query.get("updated_until"))
    if since and until and until < since:
        raise _BadRequest("updated_until is before updated_since")
    limit = plat.page_size
    if query.get("limit"):
        try:
            limit = int(query["limit"][-1])
        except ValueError:
            raise _BadRequest("limit must be an integer") from None
        if limit < 1:
            raise _BadRequest("limit must be at least 1")
    return since, until, min(limit, max(MAX_LIMIT, plat.page_size))


def _repeated(
    pages: Iterable[tuple[str, Any]], next_index: int | None, served: tuple[int, int]
) -> int | None:
    """The next page's first index once the page faults switched on have their way: a page served
    again, or its last posting served again (``served``: the page's first and end index)."""
    first, last = served
    for name, _ in pages:
        if name == "repeat_page" and next_index is not None:
            next_index = first
        elif name == "repeat_posting" and next_index is not None and last - first >= 2:
            next_index = last - 1
    return next_index


def _shaped(gen: _Generator, plat: _Platform, i: int, shaping: dict[str, dict]) -> str:
    """Posting ``i`` as served, with the posting faults that are switched on."""
    if not shaping.keys() & {"control_characters", "bad_credit_codes", "bare_salary"}:
        return gen.render(plat.code, i)
    truth: dict[str, Any] = {}
    item = json.loads(gen.render(plat.code, i, truth))
    keys = plat.keys
    flat = plat.adapter == "flat"
    control = shaping.get("control_characters")
    if control and i % control["every"] == 0:
        _add_control_characters(item, keys, flat)
    if "bad_credit_codes" in shaping:
        _break_credit_code(item, keys, flat)
    bare = shaping.get("bare_salary")
    if bare and truth["salary_unit"] == "MONTH" and truth["salary_min"]:
        factor = {"HOUR": 1 / 174, "DAY": 1 / 21.75, "WEEK": 12 / 52, "MONTH": 1, "YEAR": 12}[bare["unit"]]
        amount = round(truth["salary_min"] * factor)
        if flat:
            item[keys["salary"]] = str(amount)
        else:
            item["baseSalary"] = amount
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def _add_control_characters(item: dict, keys: dict[str, str], flat: bool) -> None:
    title_key = keys["title"] if flat else "title"
    if item.get(title_key):
        title = item[title_key]
        item[title_key] = title[:2] + "\x00" + title[2:] + "\x1b\x85"
    desc_key = keys["description"] if flat else "description"
    item[desc_key] = "\x00" + item[desc_key] + "\x1f"


def _break_credit_code(item: dict, keys: dict[str, str], flat: bool) -> None:
    """The employer's credit code, wherever the posting has one, with a failing check character."""
    if flat:
        if item.get(keys["employer_credit_code"]):
            item[keys["employer_credit_code"]] = _wrong_check(item[keys["employer_credit_code"]])
        return
    org = item["hiringOrganization"]
    ident = org.get("identifier")
    if isinstance(ident, dict):
        ident["value"] = _wrong_check(ident["value"])
    elif ident:
        org["identifier"] = _wrong_check(ident)


def _wrong_check(code: str) -> str:
    """A credit code with a check character that fails (the one after the right one in the alphabet)."""
    chars = creditcode.CHARSET
    right = creditcode.check_char(code[:17])
    return code[:17] + chars[(chars.index(right) + 1) % len(chars)]


_BOMBS: dict[tuple[int, int], bytes] = {}


def _gzip_bomb(body: bytes, inflated_bytes: int) -> bytes:
    """``body`` and then spaces up to ``inflated_bytes``, gzip-compressed (about 1,000 : 1), made a
    megabyte at a time so the simulator itself never holds the inflated text."""
    key = (hash(body), inflated_bytes)
    bomb = _BOMBS.get(key)
    if bomb is None:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [packer.compress(body)]
        left = max(0, inflated_bytes - len(body))
        block = b" " * 2**20
        while left > 0:
            parts.append(packer.compress(block[: min(left, len(block))]))
            left -= len(block)
        parts.append(packer.flush())
        bomb = _BOMBS[key] = b"".join(parts)
        if len(_BOMBS) > 8:
            _BOMBS.pop(next(iter(_BOMBS)))
    return bomb


def _rename(text: str, old: str, new: str) -> str:
    item = json.loads(text)
    if old not in item:
        return text
    return json.dumps({new if k == old else k: v for k, v in item.items()}, ensure_ascii=False)


# --------------------------------------------------------------------------------------------- API


class FeedSimulator:
    """The partner platforms' job feeds, served over HTTP on ``host:port`` (port 0: any free port).

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``platforms`` are config Platform
    objects or codes (default: every configured platform); ``postings_per_platform`` postings per
    platform have ``dateModified`` spread over [start, end). A platform's postings depend only on the
    seed, the volume, start/end and its code. ``repost_variation``: the share of reposts written as some
    platforms do, so that only fuzzy matching finds them (no credit code, no city, or the place in the
    title; a third each). Faults: :meth:`set_fault` (names and options in :data:`FAULTS`); ground truth:
    :meth:`expected_postings`, :meth:`defect`, :meth:`job_members`.
    """

    host = "127.0.0.1"
    port = 0  # any free port

    def __init__(
        self,
        platforms: Iterable[Any] | None = None,
        *,
        seed: int = 2022,
        postings_per_platform: int = 2000,
        token: str = "demo-token",  # noqa: S107 - the simulator's demo credential
        repost_variation: float = 0.0,
    ):
        from recruitment_month import config

        chosen = []
        for p in config.platforms() if platforms is None else platforms:
            chosen.append(config.platform(p) if isinstance(p, str) else p)
        self._chosen = chosen
        self._universe = [p.code for p in config.platforms()]
        plan = _Plan(seed, postings_per_platform, _FEED_START, _FEED_END, repost_variation)
        self._gen = _Generator(chosen, plan, self._universe)
        self.seed = seed
        self.token = token
        self._lock = threading.Lock()
        self._faults: dict[str, dict[str, _Fault]] = {code: {} for code in self._gen.platforms}
        self._stats = {code: {"requests": 0, "postings": 0} for code in self._gen.platforms}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def spread_over(self, start: datetime, end: datetime) -> FeedSimulator:
        """Spread the postings' ``dateModified`` over [start, end) instead of the campaign's two months;
        returns self. Call it before serving."""
        plan = replace(self._gen.plan, start=start, end=end)
        self._gen = _Generator(self._chosen, plan, self._universe)
        return self

    # -- lifecycle

    def start(self) -> FeedSimulator:
        """Start serving in a background thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sim = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="feed-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sim = self
        self.port = self._server.server_address[1]
        log.info("feed simulator serving %s/p/<code>/jobs", self.url)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self._server = None

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FeedSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def platform_codes(self) -> list[str]:
        return list(self._gen.platforms)

    @property
    def postings_per_platform(self) -> int:
        return self._gen.volume

    def base_url(self, platform_code: str) -> str:
        """The platform's feed base URL, e.g. ``http://127.0.0.1:8765/p/zhilian``."""
        self._platform(platform_code)
        return f"{self.url}/p/{platform_code}"

    def _platform(self, code: str) -> _Platform:
        try:
            return self._gen.platforms[code]
        except KeyError:
            raise KeyError(f"no platform {code!r} in the simulator") from None

    # -- faults

    def set_fault(self, platform_code: str, fault: str, **options: Any) -> None:
        """Switch a fault on for a platform (``"*"``: every platform); see :data:`FAULTS` for options.
        ``renamed_field`` takes ``from`` (or ``from_``) and ``to``. Setting a fault again resets it."""
        codes = self.platform_codes if platform_code == "*" else [platform_code]
        states = {code: _Fault(fault, _fault_options(self._platform(code), fault, options)) for code in codes}
        with self._lock:
            for code, state in states.items():
                self._faults[code][fault] = state

    def clear_faults(self, platform_code: str | None = None) -> None:
        """Switch off the faults of one platform, or of every platform."""
        codes = self.platform_codes if platform_code in (None, "*") else [self._platform(platform_code).code]
        with self._lock:
            for code in codes:
                self._faults[code] = {}

    def faults(self) -> dict[str, dict[str, Any]]:
        """Active faults per platform with their options and counters (requests seen, times fired)."""
        with self._lock:
            return {
                code: {name: f.as_dict() for name, f in faults.items()}
                for code, faults in self._faults.items()
                if faults
            }

    def _consult(self, code: str) -> tuple[tuple[str, dict] | None, dict[str, dict]]:
        """Count a request against the failing faults; the one that fires (if any) and the others."""
        with self._lock:
            self._stats[code]["requests"] += 1
            faults = self._faults[code]
            fired = None
            for name in _FAILING:
                f = faults.get(name)
                if f is None:
                    continue
                f.seen += 1
                every = f.options.get("every") or 0
                if (every and f.seen % every == 0) or (not every and f.fired < f.options["times"]):
                    f.fired += 1
                    fired = (name, dict(f.options))
                    break
            shaping = {n: dict(f.options) for n, f in faults.items() if n not in _FAILING}
            return fired, shaping

    def _pages(self, code: str, shaping: dict[str, dict]) -> list[tuple[str, dict]]:
        """Count a served page against repeat_page / repeat_posting; the ones that fire now."""
        out = []
        with self._lock:
            for name in ("repeat_page", "repeat_posting"):
                f = self._faults[code].get(name)
                if f is None or name not in shaping:
                    continue
                f.seen += 1
                if f.seen >= f.options["page"] and f.fired < f.options["times"]:
                    f.fired += 1
                    out.append((name, f.options))
        return out

    def _served(self, code: str, count: int) -> None:
        with self._lock:
            self._stats[code]["postings"] += count

    def stats(self) -> dict[str, dict[str, int]]:
        """Requests and postings served per platform since start."""
        with self._lock:
            return {code: dict(s) for code, s in self._stats.items()}

    # -- ground truth

    def expected_count(self, platform_code: str, updated_since=None, updated_until=None) -> int:
        """How many postings the window holds (cheap at any volume)."""
        lo, hi = self._range(platform_code, updated_since, updated_until)
        return hi - lo

    def _range(self, code: str, since: Any, until: Any) -> tuple[int, int]:
        self._platform(code)
        since = None if since is None else _to_utc(since, "updated_since")
        until = None if until is None else _to_utc(until, "updated_until")
        return self._gen.index_range(code, since, until)

    def iter_expected(self, platform_code: str, updated_since=None, updated_until=None) -> Iterator[dict]:
        """Like :meth:`expected_postings`, one at a time."""
        lo, hi = self._range(platform_code, updated_since, updated_until)
        for i in range(lo, hi):
            yield self._entry(platform_code, i)

    def expected_postings(self, platform_code: str, updated_since=None, updated_until=None) -> list[dict]:
        """The ground truth of a window (updated_since <= dateModified < updated_until, None = open):
        in feed order, one entry per posting: ``posting_id``, ``modified_at`` (aware UTC),
        ``job_key`` (the same for the copies of a job on several platforms), ``defect`` (None or one
        of :data:`DEFECTS`), ``item`` (the raw item exactly as served without faults) and ``truth`` (the
        intended canonical values: employer, province_code, city, industry, education, employment_type,
        salary_min/salary_max in ``salary_unit`` (HOUR/DAY/MONTH/YEAR), openings, ...)."""
        return list(self.iter_expected(platform_code, updated_since, updated_until))

    def _entry(self, code: str, i: int) -> dict:
        truth: dict[str, Any] = {}
        item = json.loads(self._gen.render(code, i, truth))
        return {
            "posting_id": truth["posting_id"],
            "modified_at": truth["modified_at"],
            "job_key": truth["job_key"],
            "defect": truth["defect"],
            "item": item,
            "truth": truth,
        }

    def posting(self, platform_code: str, identifier: str) -> dict:
        """The ground-truth entry of one posting by its identifier."""
        return self._entry(platform_code, self._gen.index_of(self._platform(platform_code).code, identifier))

    def defect(self, platform_code: str, identifier: str) -> str | None:
        """The deliberate defect of a posting (one of :data:`DEFECTS`), or None when it is sound."""
        return self.posting(platform_code, identifier)["defect"]

    def job_members(self, job_key: str) -> list[tuple[str, str]]:
        """(platform code, identifier) of every posting of a job, as named by ``job_key``."""
        return [(code, self._gen.identifier(code, i)) for code, i in self._gen.members(job_key)]


# --------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve simulated partner platform job feeds.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--volume", type=int, default=2000, help="postings per platform")
    parser.add_argument("--token", default="demo-token")
    parser.add_argument("--start", default="2022-11-01T00:00:00+00:00", help="first dateModified (ISO-8601)")
    parser.add_argument("--end", default="2023-01-01T00:00:00+00:00", help="dateModified upper bound")
    parser.add_argument("--platforms", help="comma-separated platform codes (default: all configured)")
    parser.add_argument(
        "--repost-variation",
        type=float,
        default=0.06,
        help="share of reposts without credit code or city, or with the place in the title (default 0.06)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    sim = FeedSimulator(
        args.platforms.split(",") if args.platforms else None,
        seed=args.seed,
        postings_per_platform=args.volume,
        token=args.token,
        repost_variation=args.repost_variation,
    ).spread_over(datetime.fromisoformat(args.start), datetime.fromisoformat(args.end))
    sim.host, sim.port = args.host, args.port
    log.info("%d platforms × %d postings, seed %d", len(sim.platform_codes), args.volume, args.seed)
    with contextlib.suppress(KeyboardInterrupt):
        sim.serve_forever()


if __name__ == "__main__":
    main()
