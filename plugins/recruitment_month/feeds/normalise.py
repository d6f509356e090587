"""One partner feed item in, one canonical posting out (docs/feeds.md).

``normalise(item, platform)`` accepts a schema.org ``JobPosting`` as platforms publish it (adapter
``jsonld``, with the usual variations: identifiers as text or ``PropertyValue``, organisations as objects
or text, locations as one ``Place`` or a list, salaries as numbers, text or ``MonetaryAmount``) or a flat
JSON object mapped through the platform's ``field_map`` (adapter ``flat``). It answers
``(posting, problems)``: the posting is ``None`` when a problem has severity ``REJECT`` (the item goes to
quarantine); ``WARN`` problems accompany a loaded posting.

Rules (``Problem.rule``). A defect in one field never costs the record: only an item without an identity
is rejected (quarantined); any other bad field is set aside and the problem recorded on the posting
(``problems``, JSON).

* ``missing_field`` (reject): no posting id, title, modification time or employer name.
* ``date_invalid`` (reject for the modification time): it cannot be read, or is outside 2000–2099.
* ``item_invalid`` (reject): the item is not a JSON object.
* ``credit_code_invalid`` (warn): an employer credit code is present but has the wrong length,
  characters or check character (GB 32100, with the embedded GB 11714 organisation code check). It is
  kept in ``employer_credit_code_raw``, not in ``employer_credit_code``, so it links nothing.
* ``salary_unparseable`` (warn): a salary that is not a salary (``面议`` is not a problem: no salary).
* ``salary_implausible`` (warn): a monthly amount outside the platform's ``limits.salary_monthly_min``
  – ``salary_monthly_max``; ``salary_range_invalid`` (warn): minimum above maximum. Both keep the amounts
  and set ``salary_flagged``, which keeps the posting out of salary figures. A bare number (``72000``,
  ``"8000"``, a MonetaryAmount without ``unitText``) is per the platform's ``salary_unit`` (MONTH unless
  configured).
* ``date_invalid`` (warn): datePosted or validThrough cannot be read; set aside.
* ``control_characters`` (warn): C0/C1 control characters were removed from text fields (tab and line
  breaks are spacing, as elsewhere in free text).
* ``region_unknown`` (warn): the location names no reporting unit; ``province_code`` is None.
* ``openings_invalid`` (warn): the number of openings is not a count from 1 to 100,000; 1 is used.
* ``field_renamed`` (warn): an expected field was missing and its value was read under another name
  (``employer`` or ``organization`` for ``hiringOrganization``; the canonical name for a flat field).
  ``name`` for a missing ``title`` is schema.org usage and not flagged.

Built for a hot loop over a million items (about 10 µs an item): precompiled expressions; memoised
lookups of the repetitive text fields (region and city, industry, education, employment type, salary
text, end of validity, title key), but not of the fields that seldom repeat (credit code, modification
time, description), where a cache costs more than it saves; a short way for each usual shape (a text, a
PropertyValue, the usual MonetaryAmount, a count), which answers exactly what the general rules answer
and leaves everything else to them; no objects per item beyond the posting dict and, for bad items only,
the problems. ``tests/feeds/test_normalise.py`` holds the short ways to the general rules.

Pure module: no Airflow import.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from recruitment_month import config
from recruitment_month.config import Platform
from recruitment_month.feeds.creditcode import check_char, is_valid
from recruitment_month.feeds.identity import identifier, without_control
from recruitment_month.problems import Problem, Severity
from recruitment_month.text import strip_control

__all__ = [
    "DESCRIPTION_MAX_CHARS",
    "EDUCATION_LEVELS",
    "EMPLOYMENT_TYPES",
    "INDUSTRY_CATEGORIES",
    "INDUSTRY_KEYWORDS",
    "canonical_columns",
    "classify_education",
    "classify_employment_type",
    "classify_industry",
    "clear_caches",
    "normalise",
    "parse_salary_text",
    "resolve_region",
    "salary_to_monthly",
    "title_key",
]

canonical_columns: list[str] = [
    "platform_code",
    "posting_id",
    "title",
    "title_key",
    "employer_name",
    "employer_credit_code",
    "province_code",
    "city",
    "industry_category",
    "education_level",
    "employment_type",
    "salary_min",
    "salary_max",
    "openings",
    "date_posted",
    "valid_through",
    "modified_at",
    "url",
    "description",
    "employer_credit_code_raw",
    "salary_flagged",
    "problems",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DESCRIPTION_MAX_CHARS = 4000
CREDIT_CODE_RAW_MAX = 64  # characters of an invalid credit code kept in employer_credit_code_raw
OPENINGS_MAX = 100_000
_YEAR_MIN, _YEAR_MAX = 2000, 2099

REJECT = Severity.REJECT
WARN = Severity.WARN

# --------------------------------------------------------------------------------------------------
# Industry: campaign categories (the notice's five key industries first) and their keywords.
# Adding a keyword is one line. The longest keyword found in the text wins; a tie goes to the category
# listed first. ASCII keywords match whole words only and ignore case.
# --------------------------------------------------------------------------------------------------
# fmt: off
INDUSTRY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "能源动力": ("能源", "电力", "新能源", "石油", "石化", "光伏", "动力", "电网", "核电", "风电", "煤炭",
                 "燃气", "储能", "energy", "power", "oil", "petroleum", "solar", "utilities"),
    "材料化工": ("材料", "化工", "化学", "新材料", "冶金", "钢铁", "有色金属", "橡胶", "塑料",
                 "chemical", "chemicals", "materials"),
    "装备制造": ("制造", "机械", "装备", "汽车", "设备", "仪器", "仪表", "机床", "船舶", "航空航天",
                 "机器人", "manufacturing", "machinery", "automotive", "equipment"),
    "建筑地产": ("建筑", "房地产", "地产", "土木", "工程施工", "物业", "建材", "装修",
                 "construction", "real estate", "civil engineering"),
    "金融": ("银行", "证券", "保险", "金融", "基金", "信托", "期货", "投资",
             "finance", "financial", "bank", "banking", "insurance", "securities"),
    "信息技术": ("互联网", "软件", "IT", "计算机", "通信", "电子", "信息技术", "人工智能", "大数据",
                 "云计算", "半导体", "芯片", "集成电路", "software", "internet", "telecommunications",
                 "electronics", "computer", "information technology"),
    "教育培训": ("教育", "培训", "学校", "教师", "education", "training", "teaching"),
    "医药卫生": ("医药", "医疗", "医院", "卫生", "制药", "生物医药", "生物技术", "健康", "护理",
                 "healthcare", "medical", "pharmaceutical", "hospital", "health"),
    "批发零售": ("批发", "零售", "电子商务", "电商", "商贸", "贸易", "快消", "超市",
                 "retail", "wholesale", "e-commerce", "trade"),
    "交通物流": ("交通", "物流", "运输", "快递", "仓储", "航运", "港口", "铁路", "民航", "供应链",
                 "logistics", "transportation", "transport", "shipping"),
    "现代农业": ("农业", "农林", "林业", "畜牧", "渔业", "养殖", "种植", "农产品", "agriculture", "farming"),
    "文化传媒": ("文化", "传媒", "媒体", "广告", "出版", "影视", "新闻", "文旅",
                 "media", "advertising", "publishing", "entertainment"),
    "公共管理": ("公共管理", "政府", "机关", "事业单位", "社会组织", "社区", "公共服务",
                 "government", "public administration", "public sector"),
    "其他": (),
}
# fmt: on
INDUSTRY_CATEGORIES: list[str] = list(INDUSTRY_KEYWORDS)
INDUSTRY_OTHER = "其他"

EMPLOYMENT_TYPES = ("full_time", "part_time", "intern", "contract", "temporary", "other")
# fmt: off
_EMPLOYMENT: dict[str, str] = {
    "full_time": "full_time", "fulltime": "full_time", "全职": "full_time", "正式": "full_time",
    "正式工": "full_time", "校招": "full_time", "permanent": "full_time",
    "part_time": "part_time", "parttime": "part_time", "兼职": "part_time",
    "intern": "intern", "internship": "intern", "实习": "intern", "实习生": "intern", "trainee": "intern",
    "contractor": "contract", "contract": "contract", "合同": "contract", "合同工": "contract",
    "劳务派遣": "contract", "派遣": "contract", "外包": "contract",
    "temporary": "temporary", "temp": "temporary", "临时": "temporary", "临时工": "temporary",
    "seasonal": "temporary",
    "per_diem": "other", "volunteer": "other", "other": "other", "其他": "other",
}
# fmt: on

EDUCATION_LEVELS = ("doctorate", "master", "bachelor", "associate", "secondary", "any", "other")
# The keyword nearest the start of the text wins (the longest one at the same place).
_EDUCATION_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("doctorate", ("博士", "doctorate", "doctoral", "phd", "ph.d")),
    ("master", ("硕士", "研究生", "master", "postgraduate", "mba")),
    ("bachelor", ("本科", "学士", "bachelor", "undergraduate")),
    ("associate", ("大专", "专科", "高职", "associate")),
    ("secondary", ("高中", "中专", "中技", "技校", "职高", "high school", "secondary")),
    ("any", ("不限", "学历不限", "无要求", "none", "no requirement", "any")),
)
_EDUCATION_RANK = {"any": 0, "secondary": 1, "associate": 2, "bachelor": 3, "master": 4, "doctorate": 5}

# --------------------------------------------------------------------------------------------------
# Salary
# --------------------------------------------------------------------------------------------------
_HOURS_PER_DAY = 8
_DAYS_PER_MONTH = 21.75
_UNIT_FACTOR: dict[str, float] = {}
for _names, _factor in (
    (("hour", "hours", "hourly", "hr", "h", "小时", "时"), _HOURS_PER_DAY * _DAYS_PER_MONTH),
    (("day", "days", "daily", "d", "天", "日"), _DAYS_PER_MONTH),
    (("week", "weeks", "weekly", "wk", "周", "星期"), 52 / 12),
    (("month", "months", "monthly", "mon", "mo", "月"), 1.0),
    (("year", "years", "yearly", "annual", "annually", "yr", "a", "年"), 1 / 12),
):
    for _name in _names:
        _UNIT_FACTOR[_name] = _factor
_CURRENCIES = frozenset({"CNY", "RMB", "人民币", "元", "¥", "￥"})

_NEGOTIABLE_RE = re.compile(r"面议|面谈|议定|negotiable|面洽")
_PAY_MONTHS_RE = re.compile(r"[·*×x,，+]?\s*(\d{2})\s*薪")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_PREFIX_PERIOD_RE = re.compile(r"(年|月|日|时|周)薪")
_PERIOD_RE = re.compile(
    r"(?:/|每|per\s*)\s*(小时|时|天|日|周|星期|月|年|hours?|hourly|hr|h|days?|d|weeks?|wk|months?|mon|mo|years?|yr|a)"
    r"(?![a-z])"
)
_NUM = r"(\d+(?:\.\d+)?)\s*(千|k|万|w)?"
_RANGE_RE = re.compile(_NUM + r"(?:\s*(?:-|~|至|到|—|–|to)\s*" + _NUM + r")?\s*(以上|起|\+|以下|左右)?")
_UNKNOWN_PERIOD_RE = re.compile(r"/|每|(?<![a-z])per(?![a-z])")
_CURRENCY_WORDS_RE = re.compile(r"元|¥|rmb|cny|人民币")
_DIGIT_RE = re.compile(r"\d")
_MULTIPLIER = {None: 1, "千": 1000, "k": 1000, "万": 10000, "w": 10000}

# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------
_SCRIPT_RE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_SCRIPT_HINT_RE = re.compile(r"<s(?:cr|ty)", re.I)  # where _SCRIPT_RE matches, this one matches too
_TAG_RE = re.compile(r"<!--.*?-->|<[^>]*>", re.S)
_TAG_RUN_RE = re.compile(r"<[^>]*+>(?:<[^>]*+>)*+")  # _TAG_RE for text without <!--, adjacent tags at once
_WS_RE = re.compile(r"\s+")

_TITLE_BRACKETS_RE = re.compile(r"【[^】]*】|\[[^\]]*\]|〔[^〕]*〕|〖[^〗]*〗")
_TITLE_PAREN_RE = re.compile(r"\(([^()]*)\)")
_TITLE_NOISE = (
    r"\d{2,4}\s*届|(?:\d{2,4}\s*年?\s*)?(?:校招|校园招聘|春招|秋招|春季|秋季|应届生?|毕业生)|急招|急聘|热招|诚聘|"
    r"高薪|直招|双休|五险一金|包吃住|可转正|名额有限"
)
_TITLE_NOISE_PAREN_RE = re.compile(_TITLE_NOISE)
_TITLE_NOISE_FREE_RE = re.compile(
    r"\d{2,4}\s*届(?:毕业生|应届生?|校招|校园招聘)?|\d{4}\s*(?:校招|校园招聘|春招|秋招)|急招|急聘|热招|诚聘"
)
_TITLE_SYMBOLS = (("c++", "cpp"), ("c#", "csharp"), (".net", "dotnet"))
_NON_WORD_RE = re.compile(r"[\W_]+")

# --------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------
_DATE_LOOSE_RE = re.compile(
    r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T\s]\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?)?\s*$"
)

_ORG_CHARSET_RE = re.compile(r"^[0-9A-HJ-NP-RT-UW-Y]{18}$")
_INT_RE = re.compile(r"\d+")
_MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})
_CITY_RE = re.compile(r"^(.{1,12}?(?:市|自治州|地区|盟))")

# isinstance() with a tuple: cheaper per call than with a union (list | tuple) in Python 3.11.
_SEQUENCE = (list, tuple)
_NUMBER = (int, float)


class _Reject(Exception):
    """One value that cannot be read; becomes a problem (REJECT for the identity fields, else WARN).
    ``value``: what to keep apart from the canonical column, if anything."""

    def __init__(self, rule: str, message: str, value: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.value = value


# ==================================================================================================
# Public helpers
# ==================================================================================================


def salary_to_monthly(amount: float, unit: str | None = "MONTH", pay_months: float = 12) -> int:
    """An amount per ``unit`` (HOUR, DAY, WEEK, MONTH, YEAR in any case, English or Chinese; None means
    MONTH) as CNY per month, rounded. ``pay_months`` (e.g. 13 for "13薪") scales monthly amounts only.
    Raises ValueError for an unknown unit."""
    key = "month" if unit is None else str(unit).strip().lower()
    factor = _UNIT_FACTOR.get(key)
    if factor is None:
        raise ValueError(f"unknown salary unit {unit!r}")
    if factor == 1.0 and pay_months != 12:
        return round(amount * pay_months / 12)
    return round(amount * factor)


def parse_salary_text(text: str, default_unit: str | None = None) -> tuple[int | None, int | None] | None:
    """Salary text as platforms write it, as ``(min, max)`` CNY per month.

    "8千-1.2万/月", "6000-8000元/月", "15-25K·13薪" (13 months' pay: ×13/12), "200元/天", "10-15万/年",
    "年薪20-30万", "5000以上" (max None), "3000以下" (min None). Without a period the amount is per
    ``default_unit``; when that is None too, per month, except amounts of 100,000 and more, which are
    read as per year (annual pay written in 万, as in "20-30万").
    "面议" (negotiable) and empty text answer None. Text that is not a salary raises ValueError.
    """
    result = _parse_salary_cached(text, default_unit)
    if isinstance(result, str):
        raise ValueError(result)
    return result


class _NotSalary(Exception):
    """Why a salary text is not a salary (the message)."""


@lru_cache(maxsize=8192)
def _parse_salary_cached(text: str, default_unit: str | None) -> tuple[int | None, int | None] | str | None:
    raw = text
    text = unicodedata.normalize("NFKC", text).strip().lower()
    if not text or text in ("-", "--", "/"):
        return None
    if not _DIGIT_RE.search(text):
        return None if _NEGOTIABLE_RE.search(text) else f"salary {raw!r} is not a salary"
    try:
        text, pay_months = _pay_months(text, raw)
        text, unit = _period(text)
        lo, hi, bound = _amounts(text, raw)
    except _NotSalary as exc:
        return str(exc)
    if unit is None:
        unit = default_unit or ("year" if lo >= 100_000 else "month")
    try:
        lo_m = salary_to_monthly(lo, unit, pay_months)
        hi_m = salary_to_monthly(hi, unit, pay_months) if hi is not None else None
    except ValueError as exc:
        return f"salary {raw!r}: {exc}"
    if hi_m is not None:
        return (lo_m, hi_m)
    if bound in ("以上", "起", "+"):
        return (lo_m, None)
    if bound == "以下":
        return (None, lo_m)
    return (lo_m, lo_m)


def _pay_months(text: str, raw: str) -> tuple[str, int]:
    """(the text without "13薪", the months' pay a year: 12 unless it says)."""
    m = _PAY_MONTHS_RE.search(text)
    if not m:
        return text, 12
    pay_months = int(m.group(1))
    if not 12 <= pay_months <= 24:
        raise _NotSalary(f"salary {raw!r}: {pay_months} months' pay is not plausible")
    return text[: m.start()] + " " + text[m.end() :], pay_months


def _period(text: str) -> tuple[str, str | None]:
    """(the text without its period, the period: 年, 月 ... or None)."""
    unit: str | None = None
    for pattern in (_PREFIX_PERIOD_RE, _PERIOD_RE):
        m = pattern.search(text)
        if m:
            unit = m.group(1)
            text = text[: m.start()] + " " + text[m.end() :]
    return text, unit


def _amounts(text: str, raw: str) -> tuple[float, float | None, str | None]:
    """(minimum, maximum or None, "以上"/"以下"/... or None) in yuan, of a text with one amount or range."""
    text = _CURRENCY_WORDS_RE.sub(" ", _THOUSANDS_RE.sub("", text))
    m = _RANGE_RE.search(text)
    if not m or _DIGIT_RE.search(text[: m.start()]) or _DIGIT_RE.search(text[m.end() :]):
        raise _NotSalary(f"salary {raw!r} is not a salary")
    if _UNKNOWN_PERIOD_RE.search(text):  # "/件": pay per piece is no monthly salary
        raise _NotSalary(f"salary {raw!r} is not per hour, day, week, month or year")
    lo_num, lo_mul, hi_num, hi_mul, bound = m.groups()
    if hi_num is None:
        return float(lo_num) * _MULTIPLIER[lo_mul], None, bound
    lo = float(lo_num)
    if lo_mul is None and hi_mul is not None and lo < 1000:
        lo_mul = hi_mul  # "15-25K", "10-15万": the unit written once applies to both
    return lo * _MULTIPLIER[lo_mul], float(hi_num) * _MULTIPLIER[hi_mul], bound


def title_key(title: str) -> str:
    """The title as compared for de-duplication: NFKC, lower case, recruiting decorations such as
    （2023届）, 【急招】 or "2024校招" removed, then every punctuation mark and space removed."""
    return _title_key(title)


@lru_cache(maxsize=65536)
def _title_key(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).lower()
    text = _TITLE_BRACKETS_RE.sub(" ", text)
    if "(" in text:
        text = _TITLE_PAREN_RE.sub(_drop_noise_paren, text)
    text = _TITLE_NOISE_FREE_RE.sub(" ", text)
    for symbol, word in _TITLE_SYMBOLS:
        if symbol in text:
            text = text.replace(symbol, word)
    return _NON_WORD_RE.sub("", text)


def _drop_noise_paren(m: re.Match) -> str:
    return " " if _TITLE_NOISE_PAREN_RE.search(m.group(1)) else m.group(0)


@cache
def _industry_index() -> tuple[re.Pattern, dict[str, str], dict[str, int]]:
    owner: dict[str, str] = {}
    for category, keywords in INDUSTRY_KEYWORDS.items():
        for kw in keywords:
            owner.setdefault(kw.lower(), category)
    for category in INDUSTRY_KEYWORDS:  # a category's own name always names it
        if category != INDUSTRY_OTHER:
            owner[category.lower()] = category
    order = {c: i for i, c in enumerate(INDUSTRY_KEYWORDS)}
    parts = []
    for kw in sorted(owner, key=lambda k: -len(k)):
        escaped = re.escape(kw)
        parts.append(f"(?<![a-z]){escaped}(?![a-z])" if kw.isascii() else escaped)
    return re.compile("|".join(parts)), owner, order


@lru_cache(maxsize=8192)
def classify_industry(text: str | None) -> str | None:
    """The campaign industry category of an industry or occupation text; 其他 when no keyword matches,
    None for no text."""
    if not text:
        return None
    pattern, owner, order = _industry_index()
    best: tuple[int, int] | None = None
    best_category = INDUSTRY_OTHER
    for m in pattern.finditer(text.lower()):
        kw = m.group(0)
        category = owner[kw]
        rank = (-len(kw), order[category])
        if best is None or rank < best:
            best, best_category = rank, category
    return best_category


@cache
def _education_pattern() -> tuple[re.Pattern, dict[str, str]]:
    owner = {kw: level for level, keywords in _EDUCATION_KEYWORDS for kw in keywords}
    parts = []
    for kw in sorted(owner, key=lambda k: -len(k)):
        escaped = re.escape(kw)
        parts.append(f"(?<![a-z]){escaped}(?![a-z])" if kw.isascii() else escaped)
    return re.compile("|".join(parts)), owner


@lru_cache(maxsize=4096)
def classify_education(text: str | None) -> str | None:
    """doctorate, master, bachelor, associate, secondary, any or other; None for no text. The first
    level named counts: "本科及以上，研究生优先" is bachelor, "博士研究生" doctorate."""
    if not text:
        return None
    low = unicodedata.normalize("NFKC", text).strip().lower()
    if not low:
        return None
    pattern, owner = _education_pattern()
    m = pattern.search(low)
    return owner[m.group(0)] if m else "other"


@lru_cache(maxsize=1024)
def classify_employment_type(text: str | None) -> str | None:
    """full_time, part_time, intern, contract, temporary or other; None for no text."""
    if not text:
        return None
    key = _WS_RE.sub("_", text.strip().lower().replace("-", "_"))
    if not key:
        return None
    found = _EMPLOYMENT.get(key) or _EMPLOYMENT.get(key.replace("_", ""))
    if found:
        return found
    for word, value in _EMPLOYMENT.items():  # "全职/校招", "实习岗位"
        if not word.isascii() and word in key:
            return value
    return "other"


_EN_SUFFIXES = (
    "province",
    "municipality",
    "autonomousregion",
    "specialadministrativeregion",
    "sheng",
    "shi",
    "zizhiqu",
    "region",
    "city",
)
_EN_ALIASES = {
    "tibet": "xizang",
    "innermongol": "innermongolia",
    "neimenggu": "innermongolia",
    "neimongol": "innermongolia",
    "guangxizhuang": "guangxi",
    "ningxiahui": "ningxia",
    "xinjianguygur": "xinjiang",
    "xinjianguyghur": "xinjiang",
    "xinjianguighur": "xinjiang",
}
_LETTERS_RE = re.compile(r"[^a-z]+")


def _en_key(text: str) -> str:
    key = _LETTERS_RE.sub("", text.lower())
    for suffix in _EN_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 2:
            key = key[: -len(suffix)]
            break
    return _EN_ALIASES.get(key, key)


@cache
def _region_table() -> tuple[dict[str, str], tuple[tuple[str, str], ...], dict[str, str]]:
    exact: dict[str, str] = {}
    names: list[tuple[str, str]] = []
    full_names: dict[str, str] = {}
    for unit in config.units().units:
        exact[unit.code] = unit.code
        full_names[unit.code] = unit.name
        for name in unit.names:
            exact[name] = unit.code
            names.append((name, unit.code))
        exact.setdefault(_en_key(unit.name_en), unit.code)
    names.sort(key=lambda n: -len(n[0]))
    return exact, tuple(names), full_names


@lru_cache(maxsize=4096)
def resolve_region(text: str | None) -> str | None:
    """The 6-digit reporting unit code of a province written as a code, full name (广东省), short name
    (广东) or in English (Guangdong, Guangdong Province); None when it names no unit."""
    if not text:
        return None
    exact, _, _ = _region_table()
    key = text.strip().replace(" ", "").replace("\u3000", "")
    found = exact.get(key)
    if found is None and key.isascii():
        found = exact.get(_en_key(key))
    return found


@lru_cache(maxsize=8192)
def _split_address(text: str) -> tuple[str | None, str | None]:
    """(province code, city) from an address written as one string: "广东省深圳市南山区", "北京市朝阳区",
    "Shenzhen, Guangdong"."""
    text = text.strip()
    code = resolve_region(text)
    if code:
        return code, _region_table()[2][code] if code in _MUNICIPALITIES else None
    compact = text.replace(" ", "").replace("\u3000", "")
    _, names, full_names = _region_table()
    for name, unit_code in names:
        if compact.startswith(name):
            rest = compact[len(name) :]
            if unit_code in _MUNICIPALITIES:
                return unit_code, full_names[unit_code]
            m = _CITY_RE.match(rest)
            return unit_code, (m.group(1) if m else None)
    parts = [p.strip() for p in re.split(r"[,，;；/|]", text) if p.strip()]
    for i, part in enumerate(parts):
        code = resolve_region(part)
        if code:
            if code in _MUNICIPALITIES:
                return code, full_names[code]
            return code, (parts[i - 1] if i > 0 else None)
    return None, None


def clear_caches() -> None:
    """Forget memoised lookups (after a change of the units configuration or the keyword tables)."""
    for fn in (
        _region_table,
        _industry_index,
        resolve_region,
        _split_address,
        classify_industry,
        classify_education,
        classify_employment_type,
        _education_pattern,
        _parse_salary_cached,
        _title_key,
        _salary_text,
        _datetime_text_memo,
        _industry_text,
        _place_text,
    ):
        fn.cache_clear()


# ==================================================================================================
# Field readers
# ==================================================================================================


def _text(value: object) -> str | None:
    """A plain single-line string, or None."""
    if type(value) is str:  # nearly always
        s = value.strip()
    elif value is None:
        return None
    elif isinstance(value, str):
        s = value.strip()
    elif isinstance(value, _SEQUENCE):
        return _text(value[0]) if value else None
    elif isinstance(value, dict):
        return _text(value.get("name") or value.get("value") or value.get("@value"))
    elif isinstance(value, bool):
        return None
    else:
        s = str(value)
    if not s:
        return None
    if "&" in s:
        s = html.unescape(s)
    # isprintable() is false for a line break, a tab and every space but " " (\u3000 too): one pass
    # clears the usual text of the last four checks.
    if (not s.isprintable() or "  " in s) and (
        "  " in s or "\n" in s or "\t" in s or "\r" in s or "\u3000" in s
    ):
        s = " ".join(s.split())
    return s or None


def _credit_identifier(value: object) -> str | None:
    """The unified social credit code among an organisation's identifiers."""
    if isinstance(value, _SEQUENCE):
        for entry in value:
            if isinstance(entry, dict):
                label = str(entry.get("name") or entry.get("propertyID") or "").lower()
                if "信用代码" in label or "uscc" in label or "credit" in label:
                    return identifier(entry)
        return identifier(value)
    return identifier(value)


def _credit_code(value: object) -> str | None:
    """The employer's credit code cleaned up (capitals, no spaces or hyphens), None for none. Not
    memoised: codes repeat too seldom (a feed names a new employer in four postings of five) to pay for
    a cache, and the check is cheap."""
    raw = _credit_identifier(value)
    if raw is None:
        return None
    code = raw.strip().upper()
    if not code.isascii():
        code = unicodedata.normalize("NFKC", code).upper()
    code = code.replace(" ", "").replace("-", "")
    if not code:
        return None
    if is_valid(code):
        return code
    if len(code) != 18:
        reason = f"has {len(code)} characters, not 18"
    elif not _ORG_CHARSET_RE.match(code):
        reason = "has characters outside the GB 32100 set (digits and capitals without I, O, S, V, Z)"
    else:
        try:
            expected = check_char(code[:17])
        except ValueError:
            expected = None
        if expected is not None and expected != code[17]:
            reason = f"check character is {code[17]}, expected {expected}"
        else:
            reason = "embedded organisation code (GB 11714) check fails"
    raise _Reject(
        "credit_code_invalid",
        f"employer credit code {code} {reason}; kept apart, not used to link postings",
        code[:CREDIT_CODE_RAW_MAX],
    )


def _number(value: object, what: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Reject("salary_unparseable", f"{what} {value!r} is not a number")
    if isinstance(value, _NUMBER):
        number = float(value)
    else:
        try:
            number = float(str(value).replace(",", "").strip())
        except ValueError:
            raise _Reject("salary_unparseable", f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise _Reject("salary_unparseable", f"{what} {value!r} is not a number")
    return number


def _from_text(text: str, unit: str | None) -> tuple[int | None, int | None]:
    result = _parse_salary_cached(text, unit)
    if isinstance(result, str):
        raise _Reject("salary_unparseable", result)
    return result or (None, None)


def _monthly(amount: float, unit: str | None) -> int:
    try:
        return salary_to_monthly(amount, unit)
    except ValueError:
        raise _Reject("salary_unparseable", f"salary unit {unit!r} is not HOUR/DAY/WEEK/MONTH/YEAR") from None


def _salary(value: object, unit: str = "month") -> tuple[int | None, int | None]:
    """baseSalary: a number, numeric or salary text, MonetaryAmount or QuantitativeValue. ``unit`` (a
    key of ``_UNIT_FACTOR``): the platform's unit of an amount that names none (a bare number).

    The usual shapes take a short way with the same result; anything else goes to ``_salary_general``."""
    kind = type(value)
    if kind is dict:
        found = _monetary_amount(value)
        if found is not None:
            return found
    elif kind is str:
        found = _salary_text(value, unit)
        if type(found) is str:
            raise _Reject("salary_unparseable", found)
        return found
    elif kind is int and unit == "month":  # a whole number, per month
        m = round(float(value))
        return m, m
    return _salary_general(value, unit)


def _monetary_amount(value: dict) -> tuple[int, int] | None:
    """The usual MonetaryAmount: currency CNY (or none), ``value`` a QuantitativeValue with its unitText and
    whole numbers as minValue and maxValue (or as value). None for any other shape or any doubt: then
    ``_salary_general`` reads it (and writes the problem)."""
    currency = value.get("currency")
    if currency is not None and (type(currency) is not str or currency.strip().upper() not in _CURRENCIES):
        return None
    quantity = value.get("value")
    if type(quantity) is not dict:
        return None
    unit = quantity.get("unitText")
    if type(unit) is not str:
        return None
    factor = _UNIT_FACTOR.get(unit.strip().lower())
    if factor is None:
        return None
    lo, hi = quantity.get("minValue"), quantity.get("maxValue")
    if type(lo) is int and type(hi) is int:
        return round(float(lo) * factor), round(float(hi) * factor)
    if lo is None and hi is None:
        single = quantity.get("value")
        if type(single) is int:
            m = round(float(single) * factor)
            return m, m
    return None


@lru_cache(maxsize=8192)
def _salary_text(text: str, unit: str = "month") -> tuple[int | None, int | None] | str:
    """A salary written as text ("8000", "15-25K·13薪") as (min, max), or why it is not a salary.
    A bare number and a text without a period are per ``unit`` (the platform's; for "month", text
    amounts of 100,000 and more are per year, see ``parse_salary_text``). Memoised: the same texts come
    again and again."""
    if _is_number(text):  # "8000": a number written as text, per the platform's unit like a number
        try:
            m = _monthly(_number(text, "salary"), unit)
        except _Reject as exc:
            return exc.message
        return m, m
    result = _parse_salary_cached(text, None if unit == "month" else unit)
    if isinstance(result, str):
        return result
    return result or (None, None)


def _salary_general(value: object, default_unit: str = "month") -> tuple[int | None, int | None]:
    """baseSalary in any shape (see ``_salary``)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        raise _Reject("salary_unparseable", f"salary {value!r} is not a salary")
    if isinstance(value, _NUMBER):
        m = _monthly(_number(value, "salary"), default_unit)
        return m, m
    if isinstance(value, str):
        if _is_number(value):  # "8000": a number written as text, per the platform's unit
            m = _monthly(_number(value, "salary"), default_unit)
            return m, m
        return _from_text(value, None if default_unit == "month" else default_unit)
    if isinstance(value, _SEQUENCE):
        return _salary(value[0], default_unit) if value else (None, None)
    if not isinstance(value, dict):
        raise _Reject("salary_unparseable", f"salary {value!r} is not a salary")
    return _salary_object(value, default_unit)


def _salary_object(value: dict, default_unit: str) -> tuple[int | None, int | None]:
    """A MonetaryAmount (or a QuantitativeValue) in any shape."""
    currency = value.get("currency")
    if currency is not None and str(currency).strip().upper() not in _CURRENCIES:
        raise _Reject("salary_unparseable", f"salary currency {currency!r} is not CNY")
    inner = value.get("value")
    unit = value.get("unitText")
    if isinstance(inner, dict):
        quantity = inner
        unit = inner.get("unitText") or unit
    elif "minValue" in value or "maxValue" in value:
        quantity = value
    else:
        quantity = None
    unit, unit_key = _salary_unit(unit, default_unit)
    if quantity is None:
        return _single_amount(inner, unit, unit_key)
    lo_raw, hi_raw = quantity.get("minValue"), quantity.get("maxValue")
    if lo_raw is None and hi_raw is None:
        return _single_amount(quantity.get("value"), unit, unit_key)
    lo = _number(lo_raw, "salary minValue")
    hi = _number(hi_raw, "salary maxValue")
    return (
        _monthly(lo, unit_key) if lo is not None else None,
        _monthly(hi, unit_key) if hi is not None else None,
    )


def _salary_unit(unit: object, default_unit: str) -> tuple[str | None, str]:
    """(the unitText as written, or None; its key in ``_UNIT_FACTOR``, the platform's when none)."""
    if isinstance(unit, str):
        unit = unit.strip() or None
    elif unit is not None:
        raise _Reject("salary_unparseable", f"salary unit {unit!r} is not HOUR/DAY/WEEK/MONTH/YEAR")
    unit_key = default_unit if unit is None else unit.lower()
    if unit_key not in _UNIT_FACTOR:
        raise _Reject("salary_unparseable", f"salary unit {unit!r} is not HOUR/DAY/WEEK/MONTH/YEAR")
    return unit, unit_key


def _single_amount(single: object, unit: str | None, unit_key: str) -> tuple[int | None, int | None]:
    """One amount (a number, numeric text or salary text) per ``unit_key``."""
    if single is None or single == "":
        return None, None
    if isinstance(single, str) and not _is_number(single):
        return _from_text(single, unit and unit_key)
    m = _monthly(_number(single, "salary"), unit_key)
    return m, m


def _is_number(text: str) -> bool:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return False
    return math.isfinite(number)


_INT32_MAX = 2_147_483_647


def _check_salary(
    lo: int | None, hi: int | None, low: int, high: int
) -> tuple[int | None, int | None, Problem | None]:
    """(min, max, problem): a monthly amount outside [low, high] or a minimum above the maximum is
    flagged (``salary_implausible``, ``salary_range_invalid``) and kept as read, unless it does not fit
    the column (then None)."""
    if lo is not None and hi is not None and low <= lo <= hi <= high:
        return lo, hi, None  # the usual case: no need to look closer
    problem = None
    for amount in (lo, hi):
        if amount is not None and not low <= amount <= high:
            problem = Problem(
                "salary_implausible",
                WARN,
                f"salary {amount:,} CNY per month is outside the plausible {low:,}–{high:,}; "
                "kept out of salary figures",
                field="salary_min" if amount is lo else "salary_max",
                value=str(amount),
            )
            break
    if problem is None and lo is not None and hi is not None and lo > hi:
        problem = Problem(
            "salary_range_invalid",
            WARN,
            f"salary minimum {lo:,} is above the maximum {hi:,}; kept out of salary figures",
            field="salary_min",
            value=f"{lo}-{hi}",
        )
    if lo is not None and not -_INT32_MAX <= lo <= _INT32_MAX:
        lo = None
    if hi is not None and not -_INT32_MAX <= hi <= _INT32_MAX:
        hi = None
    return lo, hi, problem


def _datetime(value: object, what: str, end_of_day: bool = False, *, memo: bool = False) -> datetime | None:
    """A moment as tz-aware UTC; a value without zone is Asia/Shanghai local time. A date without time
    is its start, or with ``end_of_day`` its last second (a posting valid through 6月30日 is open that
    day). ``memo`` remembers texts read, for a field whose values repeat (not a modification time)."""
    if type(value) is str and value:  # nearly always
        if memo:
            return _datetime_text_memo(value, what, end_of_day)
        return _as_utc(_moment_text(value, what, end_of_day))
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, _NUMBER) and not isinstance(value, bool):
        moment = _epoch(value, what)
    elif isinstance(value, str):
        return _datetime_text(value, what, end_of_day)
    else:
        raise _Reject("date_invalid", f"{what} {value!r} is not a date")
    if not _YEAR_MIN <= moment.year <= _YEAR_MAX:
        raise _Reject("date_invalid", f"{what} {value!r} is outside {_YEAR_MIN}–{_YEAR_MAX}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(UTC)


def _datetime_text(value: str, what: str, end_of_day: bool) -> datetime:
    """``_datetime`` of a non-empty text."""
    return _as_utc(_moment_text(value, what, end_of_day))


def _moment_text(value: str, what: str, end_of_day: bool) -> datetime:
    """A non-empty text as an aware moment: with the zone it names, or without one in Asia/Shanghai
    (then its tzinfo is ``SHANGHAI`` itself, which a written offset such as +08:00 never gives)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = _loose_datetime(text, what)
    else:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=SHANGHAI)
    if end_of_day and moment.tzinfo is SHANGHAI and not moment.hour and not moment.minute and ":" not in text:
        moment = moment.replace(hour=23, minute=59, second=59)
    if not _YEAR_MIN <= moment.year <= _YEAR_MAX:
        raise _Reject("date_invalid", f"{what} {value!r} is outside {_YEAR_MIN}–{_YEAR_MAX}")
    return moment


_datetime_text_memo = lru_cache(maxsize=16384)(_datetime_text)  # a _Reject raised is not remembered

_UTC_2000 = datetime(2000, 1, 1, tzinfo=UTC)
_SHANGHAI_2000 = datetime(2000, 1, 1, tzinfo=SHANGHAI)


def _as_utc(moment: datetime) -> datetime:
    """An aware ``moment`` in UTC. For a wall time in Asia/Shanghai the same as
    ``moment.astimezone(UTC)`` in exact datetime arithmetic, several times faster: two moments with the
    same tzinfo subtract as wall times, and the zone's offset at that wall time is then taken off."""
    if moment.tzinfo is SHANGHAI:
        return _UTC_2000 + (moment - _SHANGHAI_2000 - SHANGHAI.utcoffset(moment))
    return moment.astimezone(UTC)


def _date(value: object, what: str) -> date | None:
    """A calendar date; a moment with a zone counts in Asia/Shanghai."""
    if type(value) is str and value:  # nearly always
        return _date_text(value, what)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return _date_text(value, what)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    moment = _datetime(value, what)
    return moment.astimezone(SHANGHAI).date() if moment is not None else None


def _date_text(value: str, what: str) -> date:
    """``_date`` of a non-empty text."""
    if len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if not _YEAR_MIN <= day.year <= _YEAR_MAX:
                raise _Reject("date_invalid", f"{what} {value!r} is outside {_YEAR_MIN}–{_YEAR_MAX}")
            return day
    moment = _moment_text(value, what, False)
    if moment.tzinfo is SHANGHAI:  # a wall time in Asia/Shanghai: its own date
        return moment.date()
    return moment.astimezone(SHANGHAI).date()  # a zone written: straight to Shanghai, not by way of UTC


def _epoch(value: float, what: str) -> datetime:
    seconds = value / 1000 if value > 1e11 else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise _Reject("date_invalid", f"{what} {value!r} is not a date") from None


def _loose_datetime(text: str, what: str) -> datetime:
    if text.isdigit() and len(text) in (10, 13):
        return _epoch(int(text), what)
    m = _DATE_LOOSE_RE.match(text)
    if m:
        y, mo, d, h, mi, s = m.groups()
        try:
            return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=SHANGHAI)
        except ValueError:
            pass
    raise _Reject("date_invalid", f"{what} {text!r} is not a date")


def _openings(value: object) -> tuple[int, str | None]:
    """(openings, warning message or None)."""
    if type(value) is int and 1 <= value <= OPENINGS_MAX:  # the usual case
        return value, None
    if value is None or value == "":
        return 1, None
    if isinstance(value, bool):
        return 1, f"openings {value!r} is not a count; 1 is used"
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if not value.is_integer():
            return 1, f"openings {value!r} is not a whole number; 1 is used"
        n = int(value)
    else:
        text = str(value).strip()
        m = _INT_RE.search(text)
        if m is None:
            if text in ("若干", "不限", "多名", "数名", "若干名"):
                return 1, None
            return 1, f"openings {value!r} is not a count; 1 is used"
        n = int(m.group(0))
    if not 1 <= n <= OPENINGS_MAX:
        return 1, f"openings {value!r} is outside 1–{OPENINGS_MAX:,}; 1 is used"
    return n, None


def _description(value: object) -> str | None:
    """Plain text: scripts, styles, comments and tags out, entities read, every run of spaces (Unicode
    spaces, &nbsp; and 　 included) as one, at most DESCRIPTION_MAX_CHARS characters."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if "<" in text:
        # <strong> is common, <script> and <style> are not: a quick search before the slow expression.
        if ("<s" in text or "<S" in text) and _SCRIPT_HINT_RE.search(text):
            text = _SCRIPT_RE.sub(" ", text)
        # Without a comment, _TAG_RUN_RE finds the same tags, a run of adjacent ones as one space (the
        # same words below), and faster.
        text = _TAG_RE.sub(" ", text) if "<!--" in text else _TAG_RUN_RE.sub(" ", text)
    if "&" in text:
        # &nbsp; is the usual entity, and html.unescape() costs a call per entity. As a plain space it
        # gives the same words: the entity before it (if any) ends there as it would at the "&".
        text = text.replace("&nbsp;", " ")
        if "&" in text:
            text = html.unescape(text)
    # Every space but " " is unprintable, so printable text without "  " has its spaces in order already.
    text = " ".join(text.split()) if "  " in text or not text.isprintable() else text.strip(" ")
    if len(text) > DESCRIPTION_MAX_CHARS:
        text = text[:DESCRIPTION_MAX_CHARS]
    return text or None


def _first(value: object) -> object:
    if isinstance(value, _SEQUENCE):
        return value[0] if value else None
    return value


def _employment(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, _SEQUENCE):
        found = None
        for entry in value:
            kind = _employment(entry)
            if kind and kind != "other":
                return kind
            found = found or kind
        return found
    if isinstance(value, str):
        return classify_employment_type(value)
    return classify_employment_type(str(value))


def _education(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return classify_education(value)
    if isinstance(value, dict):
        return _education(value.get("credentialCategory") or value.get("name"))
    if isinstance(value, _SEQUENCE):
        best = None
        fallback = None
        for entry in value:
            level = _education(entry)
            if level in _EDUCATION_RANK:
                if best is None or _EDUCATION_RANK[level] < _EDUCATION_RANK[best]:
                    best = level
            elif level:
                fallback = level
        return best or fallback
    return classify_education(str(value))


def _industry(industry: object, occupation: object) -> str | None:
    if type(industry) is str and (occupation is None or type(occupation) is str):  # nearly always
        return _industry_text(industry, occupation)
    return _industry_general(industry, occupation)


def _industry_general(industry: object, occupation: object) -> str | None:
    found = classify_industry(_text(industry))
    if found is None or found == INDUSTRY_OTHER:
        second = classify_industry(_text(occupation))
        if second is not None and (found is None or second != INDUSTRY_OTHER):
            return second
    return found


def _location(value: object) -> tuple[object, object]:
    """(region, locality) from jobLocation: a Place, a list of Places, a PostalAddress or a string."""
    place = value if type(value) is dict else _first(value)
    if place is None:
        return None, None
    if isinstance(place, str):
        return place, None
    if not isinstance(place, dict):
        return None, None
    address = place.get("address", place)
    if type(address) is not dict:
        address = _first(address)
    if isinstance(address, str):
        return address, None
    if not isinstance(address, dict):
        return None, None
    return address.get("addressRegion"), address.get("addressLocality")


def _place(region_raw: object, city_raw: object) -> tuple[str | None, str | None, str | None]:
    """(province code, city, warning or None)."""
    if (region_raw is None or type(region_raw) is str) and (city_raw is None or type(city_raw) is str):
        return _place_text(region_raw, city_raw)  # nearly always
    return _place_general(region_raw, city_raw)


def _place_general(region_raw: object, city_raw: object) -> tuple[str | None, str | None, str | None]:
    region = _text(region_raw)
    city = _text(city_raw)
    code = None
    if region:
        code = resolve_region(region)
        if code is None:
            code, from_address = _split_address(region)
            city = city or from_address
    if code is None and city:
        code, _ = _split_address(city)  # 北京 as the locality, or the whole address in it
    if code is None:
        if region or city:
            return None, city, f"location {region or city!r} names no reporting unit"
        return None, None, "posting has no job location"
    return code, city, None


# Memoised for texts (hashable, and the same few regions, cities, industries and occupations come again
# and again); cleared by clear_caches().
_industry_text = lru_cache(maxsize=8192)(_industry_general)
_place_text = lru_cache(maxsize=8192)(_place_general)


# ==================================================================================================
# normalise
# ==================================================================================================


def normalise(item: dict, platform: Platform) -> tuple[dict | None, list[Problem]]:
    """One feed item as the canonical posting (keys: ``canonical_columns``), with its problems.

    The posting is None when any problem rejects the item."""
    if not isinstance(item, dict):
        return None, [
            Problem(
                "item_invalid",
                REJECT,
                f"feed item is a {type(item).__name__}, not an object",
                value=repr(item)[:200],
            )
        ]
    if platform.adapter == "flat":
        return _normalise_flat(item, platform)
    return _normalise_jsonld(item, platform)


def _normalise_jsonld(item: dict, platform: Platform) -> tuple[dict | None, list[Problem]]:
    get = item.get
    title = get("title")
    if title is None or title == "":
        title = get("name")
    org = get("hiringOrganization")
    renamed = None
    if org is None:
        org = get("employer")
        renamed = "employer"
        if org is None:
            org = get("organization")
            renamed = "organization" if org is not None else None
    if type(org) is not dict:
        org = _first(org)
    if isinstance(org, dict):
        employer = org.get("name") or org.get("legalName")
        credit = org.get("identifier")
        if credit is None:
            credit = org.get("taxID")
    else:
        employer, credit = org, None
    region, city = _location(get("jobLocation"))
    raw = _RawPosting._make(  # positional, in _RawPosting's order: a tuple built in C
        (
            get("identifier"),
            title,
            employer,
            credit,
            region,
            city,
            get("baseSalary"),
            get("datePosted"),
            get("validThrough"),
            get("employmentType"),
            get("educationRequirements"),
            get("industry"),
            get("totalJobOpenings"),
            get("description"),
            get("url"),
            get("dateModified"),
            get("occupationalCategory"),
        )
    )
    return _build(platform, raw, _JSONLD_FIELDS, ("hiringOrganization", renamed) if renamed else None)


_JSONLD_FIELDS = {
    "posting_id": "identifier",
    "title": "title (or name)",
    "employer_name": "hiringOrganization.name (or employer, organization)",
    "employer_credit_code": "hiringOrganization.identifier",
    "province_code": "jobLocation.address.addressRegion",
    "region": "jobLocation.address.addressRegion",
    "salary": "baseSalary",
    "date_posted": "datePosted",
    "valid_through": "validThrough",
    "modified_at": "dateModified",
    "openings": "totalJobOpenings",
}


_FLAT_FIELDS = (
    "posting_id",
    "title",
    "employer_name",
    "employer_credit_code",
    "region",
    "city",
    "salary",
    "date_posted",
    "valid_through",
    "employment_type",
    "education",
    "industry",
    "openings",
    "description",
    "url",
    "modified_at",
)
_FlatPlan = tuple[dict[str, str] | None, tuple[tuple[str, str], ...], dict[str, str], tuple[str, ...]]
_flat_keys: dict[str, _FlatPlan] = {}


def _flat_plan(platform: Platform) -> _FlatPlan:
    """(source key, canonical name) per flat field, the source names for messages and the source keys;
    built once."""
    fmap = platform.field_map
    cached = _flat_keys.get(platform.code)
    if cached is None or cached[0] is not fmap:
        fmap_ = fmap or {}
        keys = tuple((fmap_.get(name, name), name) for name in _FLAT_FIELDS)
        names = {name: fmap_.get(name, name) for name in _FLAT_FIELDS}
        names["province_code"] = names["region"]
        cached = (fmap, keys, names, tuple(key for key, _ in keys))
        _flat_keys[platform.code] = cached
    return cached


def _normalise_flat(item: dict, platform: Platform) -> tuple[dict | None, list[Problem]]:
    _, keys, names, source_keys = _flat_plan(platform)
    get = item.get
    values = list(map(get, source_keys))
    renamed = None
    if None in values:  # a field is missing: look for it under its canonical name
        values = []
        for key, name in keys:
            value = get(key)
            if value is None and key != name:
                value = get(name)  # a renamed field that now carries the canonical name
                if value is not None and renamed is None:
                    renamed = (key, name)
            values.append(value)
    values.append(None)  # in _FLAT_FIELDS' order, which is _RawPosting's; a flat feed has no occupation
    return _build(platform, _RawPosting._make(values), names, renamed)


class _RawPosting(NamedTuple):
    """An item's fields as the feed wrote them, under the canonical names (in _FLAT_FIELDS' order)."""

    posting_id: object
    title: object
    employer: object
    credit: object
    region: object
    city: object
    salary: object
    posted: object
    valid: object
    employment: object
    education: object
    industry: object
    openings: object
    description: object
    url: object
    modified: object
    occupation: object = None


class _Texts(NamedTuple):
    """A posting's free-text fields, each under its column's name (control characters are looked for in
    these)."""

    posting_id: str
    title: str
    employer_name: str
    city: str | None
    url: str | None
    description: str | None
    employer_credit_code_raw: str | None


def _build(
    platform: Platform, raw: _RawPosting, source: dict[str, str], renamed: tuple[str, str] | None = None
) -> tuple[dict | None, list[Problem]]:
    problems: list[Problem] = []
    # Identity: without an id, a title, an employer and a modification time there is no posting.
    posting_id, title, employer, modified = _identity_fields(raw, source, problems)
    no_identity = bool(problems)
    # Every other field: a defect sets that field aside (None) with a warning; the posting is kept.
    credit, credit_kept, lo, hi, flagged, posted, valid = _other_fields(platform, raw, source, problems)
    if no_identity:  # quarantined, with every reason at once
        return None, problems
    province_code, city, where = _place(raw.region, raw.city)
    if where is not None:
        problems.append(
            Problem("region_unknown", WARN, where, field="province_code", value=_show(raw.region or raw.city))
        )
    if renamed is not None:
        problems.append(_renamed(*renamed))
    openings, warning = _openings(raw.openings)
    if warning is not None:
        problems.append(
            Problem("openings_invalid", WARN, warning, field="openings", value=_show(raw.openings))
        )
    texts = (posting_id, title, employer, city, _text(raw.url), _description(raw.description), credit_kept)
    # Control characters (PostgreSQL refuses NUL in text): isprintable() is one C pass and true for
    # nearly every posting; only text it doubts is searched, and only text that holds one is rewritten.
    if not "".join(filter(None, texts)).isprintable():
        texts = _control_free(_Texts._make(texts), problems)
        if texts is None:
            return None, problems
    posting_id, title, employer, city, url, description, credit_kept = texts
    return {
        "platform_code": platform.code,
        "posting_id": posting_id,
        "title": title,
        "title_key": _title_key(title),
        "employer_name": employer,
        "employer_credit_code": credit,
        "province_code": province_code,
        "city": city,
        "industry_category": _industry(raw.industry, raw.occupation),
        "education_level": _education(raw.education),
        "employment_type": _employment(raw.employment),
        "salary_min": lo,
        "salary_max": hi,
        "openings": openings,
        "date_posted": posted,
        "valid_through": valid,
        "modified_at": modified,
        "url": url,
        "description": description,
        "employer_credit_code_raw": credit_kept,
        "salary_flagged": flagged,
        "problems": _problems_text(problems) if problems else None,
    }, problems


def _identity_fields(
    raw: _RawPosting, source: dict[str, str], problems: list[Problem]
) -> tuple[str | None, str | None, str | None, datetime | None]:
    """(posting id, title, employer, modification time); each one missing or unreadable is a reject."""
    posting_id = identifier(raw.posting_id)
    title = _text(raw.title)
    employer = _text(raw.employer)
    if posting_id is None:
        problems.append(_missing("posting_id", source))
    if title is None:
        problems.append(_missing("title", source))
    if employer is None:
        problems.append(_missing("employer_name", source))
    modified = None
    try:
        modified = _datetime(raw.modified, source["modified_at"])
        if modified is None:
            problems.append(_missing("modified_at", source))
    except _Reject as exc:
        problems.append(_reject(exc, "modified_at", raw.modified))
    return posting_id, title, employer, modified


def _other_fields(
    platform: Platform, raw: _RawPosting, source: dict[str, str], problems: list[Problem]
) -> tuple:
    """(credit code, invalid credit code as written, monthly salary min, max, salary flagged, date
    posted, valid through): a field that cannot be read is set aside with a warning; an invalid credit
    code is kept apart, an implausible salary kept and flagged."""
    credit = credit_kept = lo = hi = posted = valid = None
    flagged = False
    try:
        credit = _credit_code(raw.credit)
    except _Reject as exc:
        credit_kept = exc.value
        problems.append(_warn(exc, "employer_credit_code", credit_kept))
    try:
        lo, hi = _salary(raw.salary, _UNIT_KEY[platform.salary_unit])
    except _Reject as exc:
        problems.append(_warn(exc, "salary", raw.salary))
    else:
        limits = platform.limits
        lo, hi, problem = _check_salary(lo, hi, limits.salary_monthly_min, limits.salary_monthly_max)
        if problem is not None:
            flagged = True
            problems.append(problem)
    try:
        posted = _date(raw.posted, source["date_posted"])
    except _Reject as exc:
        problems.append(_warn(exc, "date_posted", raw.posted))
    try:
        valid = _datetime(raw.valid, source["valid_through"], end_of_day=True, memo=True)
    except _Reject as exc:
        problems.append(_warn(exc, "valid_through", raw.valid))
    return credit, credit_kept, lo, hi, flagged, posted, valid


def _renamed(expected: str, found: str) -> Problem:
    return Problem(
        "field_renamed",
        WARN,
        f"feed field {expected!r} is missing; its value was read from {found!r}",
        field=expected,
    )


def _control_free(texts: _Texts, problems: list[Problem]) -> _Texts | None:
    """The texts without control characters, with a warning when any were removed; None (and a reject)
    when the id, title or employer is left empty."""
    found: list[str] = []
    cleaned = _Texts._make(
        _strip_control(name, value, found) for name, value in zip(_Texts._fields, texts, strict=True)
    )
    if not found:
        return cleaned
    problems.append(
        Problem(
            "control_characters", WARN, f"control characters removed from {', '.join(found)}", field=found[0]
        )
    )
    if cleaned.posting_id and cleaned.title and cleaned.employer_name:
        return cleaned
    problems.append(
        Problem(
            "missing_field",
            REJECT,
            "posting has no id, title or employer once control characters are removed",
            field=next(n for n, v in zip(_IDENTITY, cleaned[:3], strict=True) if not v),
        )
    )
    return None


_IDENTITY = ("posting_id", "title", "employer_name")
_UNIT_KEY = {"HOUR": "hour", "DAY": "day", "WEEK": "week", "MONTH": "month", "YEAR": "year"}


def _strip_control(name: str, value: str | None, found: list[str]) -> str | None:
    """``value`` without control characters (a single-line field also without the spaces left), its
    name added to ``found`` when it held any."""
    cleaned = without_control(value, single_line=name != "description")
    if cleaned != value:
        found.append(name)
    return cleaned


def _problems_text(problems: list[Problem]) -> str:
    """The warnings recorded on a loaded posting, as compact JSON (rule, field, value, message)."""
    import json

    return json.dumps(
        [
            {"rule": p.rule, "field": p.field, "value": _clean(p.value), "message": _clean(p.message)}
            for p in problems
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _clean(text: str | None) -> str | None:
    """A problem's text without control characters (it quotes what the feed sent)."""
    if text is None or text.isprintable():
        return text
    return strip_control(text)


def _show(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text[:200]


def _missing(name: str, source: dict[str, str]) -> Problem:
    return Problem(
        "missing_field",
        REJECT,
        f"posting has no {name} (feed field {source.get(name, name)!r})",
        field=name,
    )


def _reject(exc: _Reject, name: str, value: object) -> Problem:
    return Problem(exc.rule, REJECT, exc.message, field=name, value=_show(value))


def _warn(exc: _Reject, name: str, value: object) -> Problem:
    return Problem(exc.rule, WARN, exc.message + "; the field is set aside", field=name, value=_show(value))
