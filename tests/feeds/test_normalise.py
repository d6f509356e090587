"""Feed items (schema.org JobPosting and flat JSON) into canonical postings."""

from __future__ import annotations

import copy
import html
import json
import re
from datetime import UTC, date, datetime

import pytest

from recruitment_month import config
from recruitment_month.feeds import normalise as normalise_module
from recruitment_month.feeds.creditcode import check_char, is_valid
from recruitment_month.feeds.normalise import (
    DESCRIPTION_MAX_CHARS,
    INDUSTRY_CATEGORIES,
    INDUSTRY_KEYWORDS,
    canonical_columns,
    classify_education,
    classify_employment_type,
    classify_industry,
    normalise,
    parse_salary_text,
    resolve_region,
    salary_to_monthly,
    title_key,
)
from recruitment_month.problems import Severity

CODE = "91350100M000100Y43"

JSONLD = config.platform("zhilian")
FLAT = config.platform("tongcheng58")


def jsonld_item(**changes: object) -> dict:
    """The reference item with fields replaced; a field given as None is removed."""
    item = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "identifier": {"@type": "PropertyValue", "name": "智联招聘", "value": "ZL-000123"},
        "title": "Java开发工程师（2024届）",
        "hiringOrganization": {
            "@type": "Organization",
            "name": "福州海峡软件有限公司",
            "identifier": CODE,
            "sameAs": "https://example.org/company",
        },
        "jobLocation": {
            "@type": "Place",
            "address": {"@type": "PostalAddress", "addressRegion": "福建省", "addressLocality": "福州市"},
        },
        "baseSalary": {
            "@type": "MonetaryAmount",
            "currency": "CNY",
            "value": {"@type": "QuantitativeValue", "minValue": 8000, "maxValue": 12000, "unitText": "MONTH"},
        },
        "datePosted": "2024-05-20",
        "validThrough": "2024-06-30T18:00:00+08:00",
        "employmentType": "FULL_TIME",
        "educationRequirements": {
            "@type": "EducationalOccupationalCredential",
            "credentialCategory": "bachelor degree",
        },
        "industry": "互联网/IT",
        "occupationalCategory": "软件开发",
        "totalJobOpenings": 3,
        "description": "<p>岗位职责：</p><ul><li>负责后端&nbsp;开发</li></ul>",
        "url": "https://example.org/jobs/ZL-000123",
        "dateModified": "2024-05-21T10:30:00+08:00",
    }
    for key, value in changes.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return item


JSONLD_ROW = {
    "platform_code": "zhilian",
    "posting_id": "ZL-000123",
    "title": "Java开发工程师（2024届）",
    "title_key": "java开发工程师",
    "employer_name": "福州海峡软件有限公司",
    "employer_credit_code": CODE,
    "province_code": "350000",
    "city": "福州市",
    "industry_category": "信息技术",
    "education_level": "bachelor",
    "employment_type": "full_time",
    "salary_min": 8000,
    "salary_max": 12000,
    "openings": 3,
    "date_posted": date(2024, 5, 20),
    "valid_through": datetime(2024, 6, 30, 10, 0, tzinfo=UTC),
    "modified_at": datetime(2024, 5, 21, 2, 30, tzinfo=UTC),
    "url": "https://example.org/jobs/ZL-000123",
    "description": "岗位职责： 负责后端 开发",
    "employer_credit_code_raw": None,
    "salary_flagged": False,
    "problems": None,
}


def flat_item(**changes: object) -> dict:
    item = {
        "job_id": 880001,
        "job_name": "【急招】销售代表",
        "company_name": "广州南方贸易有限公司",
        "company_uscc": CODE,
        "province": "广东",
        "city": "广州",
        "salary_text": "8千-1.2万/月",
        "publish_time": "2024-05-20 09:15:00",
        "expire_time": "2024-06-30",
        "job_type": "全职",
        "degree": "大专及以上",
        "industry": "批发/零售",
        "headcount": "5",
        "job_desc": "底薪+提成&amp;五险一金\n\n  双休",
        "link": "https://example.org/58/880001",
        "update_time": "2024-05-21 08:00:00",
    }
    for key, value in changes.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return item


FLAT_ROW = {
    "platform_code": "tongcheng58",
    "posting_id": "880001",
    "title": "【急招】销售代表",
    "title_key": "销售代表",
    "employer_name": "广州南方贸易有限公司",
    "employer_credit_code": CODE,
    "province_code": "440000",
    "city": "广州",
    "industry_category": "批发零售",
    "education_level": "associate",
    "employment_type": "full_time",
    "salary_min": 8000,
    "salary_max": 12000,
    "openings": 5,
    "date_posted": date(2024, 5, 20),
    "valid_through": datetime(2024, 6, 30, 15, 59, 59, tzinfo=UTC),
    "modified_at": datetime(2024, 5, 21, 0, 0, tzinfo=UTC),
    "url": "https://example.org/58/880001",
    "description": "底薪+提成&五险一金 双休",
    "employer_credit_code_raw": None,
    "salary_flagged": False,
    "problems": None,
}


def ok(item: dict, platform=JSONLD) -> dict:
    row, problems = normalise(item, platform)
    assert row is not None, problems
    assert not problems, problems
    return row


def warned(item: dict, platform=JSONLD) -> tuple[dict, list]:
    """A posting loaded with warnings only, each recorded on the posting."""
    row, problems = normalise(item, platform)
    assert row is not None, problems
    assert problems, problems
    assert all(p.severity is Severity.WARN for p in problems), problems
    assert [r["rule"] for r in json.loads(row["problems"])] == [p.rule for p in problems]
    return row, problems


def rejected(item: dict, platform=JSONLD) -> list:
    row, problems = normalise(item, platform)
    assert row is None
    assert problems
    assert all(p.severity is Severity.REJECT for p in problems)
    return problems


def with_row(base: dict, **changes: object) -> dict:
    row = dict(base)
    row.update(changes)
    return row


# --------------------------------------------------------------------------------------------------
# Whole rows
# --------------------------------------------------------------------------------------------------


def test_jsonld_item_becomes_canonical_row():
    assert ok(jsonld_item()) == JSONLD_ROW


def test_flat_item_becomes_canonical_row():
    assert ok(flat_item(), FLAT) == FLAT_ROW


def test_columns_are_the_row_keys_in_order():
    assert list(ok(jsonld_item())) == canonical_columns
    assert list(ok(flat_item(), FLAT)) == canonical_columns


def test_item_is_not_changed():
    item = jsonld_item()
    before = copy.deepcopy(item)
    normalise(item, JSONLD)
    assert item == before


# --------------------------------------------------------------------------------------------------
# JSON-LD variants
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("ZL-9", "ZL-9"),
        ("  ZL-9 ", "ZL-9"),
        (12345, "12345"),
        ({"@type": "PropertyValue", "name": "智联招聘", "value": "ZL-9"}, "ZL-9"),
        ({"@type": "PropertyValue", "name": "id", "value": 9}, "9"),
        ([{"@type": "PropertyValue", "name": "id", "value": "ZL-9"}], "ZL-9"),
    ],
)
def test_identifier_variants(identifier, expected):
    assert ok(jsonld_item(identifier=identifier)) == with_row(JSONLD_ROW, posting_id=expected)


@pytest.mark.parametrize(
    ("organisation", "name", "code"),
    [
        ({"@type": "Organization", "name": "甲公司", "identifier": CODE}, "甲公司", CODE),
        (
            {
                "@type": "Organization",
                "name": "甲公司",
                "identifier": {"@type": "PropertyValue", "name": "统一社会信用代码", "value": CODE},
            },
            "甲公司",
            CODE,
        ),
        (
            {
                "@type": "Organization",
                "name": "甲公司",
                "identifier": [
                    {"@type": "PropertyValue", "name": "platform id", "value": "c-1"},
                    {"@type": "PropertyValue", "name": "USCC", "value": CODE},
                ],
            },
            "甲公司",
            CODE,
        ),
        ({"@type": "Organization", "name": "甲公司", "identifier": CODE.lower()}, "甲公司", CODE),
        ({"@type": "Organization", "name": "甲公司", "sameAs": "https://example.org"}, "甲公司", None),
        ({"@type": "Organization", "name": "甲公司", "identifier": ""}, "甲公司", None),
        ("甲公司", "甲公司", None),
        ({"@type": "Organization", "name": "甲&amp;乙 公司"}, "甲&乙 公司", None),
    ],
)
def test_hiring_organization_variants(organisation, name, code):
    row = ok(jsonld_item(hiringOrganization=organisation))
    assert row == with_row(JSONLD_ROW, employer_name=name, employer_credit_code=code)


def place(region: object = None, locality: object = None) -> dict:
    address = {"@type": "PostalAddress"}
    if region is not None:
        address["addressRegion"] = region
    if locality is not None:
        address["addressLocality"] = locality
    return {"@type": "Place", "address": address}


@pytest.mark.parametrize(
    ("location", "province", "city"),
    [
        (place("广东省", "深圳市"), "440000", "深圳市"),
        (place("广东", "深圳"), "440000", "深圳"),
        (place("Guangdong", "Shenzhen"), "440000", "Shenzhen"),
        (place("Guangdong Province", "Shenzhen"), "440000", "Shenzhen"),
        (place("guangdong", None), "440000", None),
        (place("内蒙古", "呼和浩特市"), "150000", "呼和浩特市"),
        (place("Inner Mongolia", None), "150000", None),
        (place("Tibet", "Lhasa"), "540000", "Lhasa"),
        (place("新疆维吾尔自治区", "乌鲁木齐市"), "650000", "乌鲁木齐市"),
        (place("陕西", "西安"), "610000", "西安"),
        (place("Shanxi", "Taiyuan"), "140000", "Taiyuan"),
        (place("440000", "深圳市"), "440000", "深圳市"),
        (place(None, "北京市"), "110000", "北京市"),
        (place(None, "上海"), "310000", "上海"),
        ([place("四川省", "成都市"), place("重庆市", "重庆市")], "510000", "成都市"),
        ({"@type": "Place", "address": "广东省深圳市南山区科技园"}, "440000", "深圳市"),
        ({"@type": "Place", "address": "北京市海淀区中关村"}, "110000", "北京市"),
        ({"@type": "Place", "address": "Shenzhen, Guangdong"}, "440000", "Shenzhen"),
        ("浙江省杭州市西湖区", "330000", "杭州市"),
        ({"@type": "PostalAddress", "addressRegion": "江苏", "addressLocality": "南京"}, "320000", "南京"),
    ],
)
def test_job_location_variants(location, province, city):
    assert ok(jsonld_item(jobLocation=location)) == with_row(JSONLD_ROW, province_code=province, city=city)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        (place("Hong Kong", "Kowloon"), "names no reporting unit"),
        (place("深圳", None), "names no reporting unit"),
        (None, "no job location"),
    ],
)
def test_unknown_region_loads_with_a_warning(location, message):
    row, problems = normalise(jsonld_item(jobLocation=location), JSONLD)
    assert row is not None
    assert row["province_code"] is None
    assert [(p.rule, p.severity, p.field) for p in problems] == [
        ("region_unknown", Severity.WARN, "province_code")
    ]
    assert message in problems[0].message


def money(value: object, unit: object = None, currency: object = "CNY", outer_unit: object = None) -> dict:
    amount: dict = {"@type": "MonetaryAmount"}
    if currency is not None:
        amount["currency"] = currency
    if outer_unit is not None:
        amount["unitText"] = outer_unit
    if isinstance(value, tuple):
        quantity = {"@type": "QuantitativeValue", "minValue": value[0], "maxValue": value[1]}
        if unit is not None:
            quantity["unitText"] = unit
        amount["value"] = quantity
    elif unit is not None:
        amount["value"] = {"@type": "QuantitativeValue", "value": value, "unitText": unit}
    else:
        amount["value"] = value
    return amount


@pytest.mark.parametrize(
    ("salary", "low", "high"),
    [
        (9000, 9000, 9000),
        (9000.0, 9000, 9000),
        ("9000", 9000, 9000),
        ("12000", 12000, 12000),  # a number as text is per month, like a number
        (money(9000), 9000, 9000),
        (money("9,000"), 9000, 9000),
        (money((8000, 12000)), 8000, 12000),  # no unit: per month
        (money((8000, 12000), "MONTH"), 8000, 12000),
        (money((8000, 12000), "month"), 8000, 12000),
        (money((50, 80), "HOUR"), 8700, 13920),  # × 8 × 21.75
        (money((50, 80), "Hour"), 8700, 13920),
        (money(300, "DAY"), 6525, 6525),  # × 21.75
        (money((2000, 3000), "WEEK"), 8667, 13000),  # × 52 / 12
        (money((120000, 180000), "YEAR"), 10000, 15000),  # / 12
        (money((120000, 180000), "year"), 10000, 15000),
        (money((120000, 180000), outer_unit="YEAR"), 10000, 15000),
        (money((8000, None), "MONTH"), 8000, None),
        (money((None, 12000), "MONTH"), None, 12000),
        (money(9000, currency="RMB"), 9000, 9000),
        (money(9000, currency=None), 9000, 9000),
        (
            {"@type": "QuantitativeValue", "minValue": 8000, "maxValue": 12000, "unitText": "MONTH"},
            8000,
            12000,
        ),
        (money("8千-1.2万", "MONTH"), 8000, 12000),
        ("8千-1.2万/月", 8000, 12000),
        ("15-25K·13薪", 16250, 27083),
        ("面议", None, None),
        ("薪资面议", None, None),
        (money("面议"), None, None),
        ({"@type": "MonetaryAmount", "currency": "CNY"}, None, None),
        (None, None, None),
    ],
)
def test_base_salary_variants(salary, low, high):
    row = ok(jsonld_item(baseSalary=salary))
    assert (row["salary_min"], row["salary_max"]) == (low, high)
    assert row == with_row(JSONLD_ROW, salary_min=low, salary_max=high)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("FULL_TIME", "full_time"),
        ("full-time", "full_time"),
        ("Full Time", "full_time"),
        ("fulltime", "full_time"),
        ("全职", "full_time"),
        ("PART_TIME", "part_time"),
        ("兼职", "part_time"),
        ("INTERN", "intern"),
        ("INTERNSHIP", "intern"),
        ("internship", "intern"),
        ("实习", "intern"),
        ("CONTRACTOR", "contract"),
        ("TEMPORARY", "temporary"),
        ("VOLUNTEER", "other"),
        ("PER_DIEM", "other"),
        ("shift work", "other"),
        (["FULL_TIME", "INTERN"], "full_time"),
        (["OTHER", "INTERN"], "intern"),
        (["Part-Time"], "part_time"),
        (None, None),
    ],
)
def test_employment_type(value, expected):
    assert ok(jsonld_item(employmentType=value))["employment_type"] == expected


def credential(category: str) -> dict:
    return {"@type": "EducationalOccupationalCredential", "credentialCategory": category}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("博士", "doctorate"),
        ("博士研究生", "doctorate"),
        ("doctorate", "doctorate"),
        ("PhD", "doctorate"),
        ("硕士", "master"),
        ("硕士研究生及以上", "master"),
        ("研究生", "master"),
        ("master", "master"),
        (credential("postgraduate degree"), "master"),
        ("本科", "bachelor"),
        ("本科及以上，研究生优先", "bachelor"),
        ("学士", "bachelor"),
        ("Bachelor", "bachelor"),
        (credential("bachelor degree"), "bachelor"),
        ("大专", "associate"),
        ("专科", "associate"),
        ("大专及以上", "associate"),
        (credential("associate degree"), "associate"),
        ("高中", "secondary"),
        ("中专", "secondary"),
        (credential("high school"), "secondary"),
        ("不限", "any"),
        ("学历不限", "any"),
        ("none", "any"),
        (credential("professional certificate"), "other"),
        ("Company training", "other"),
        ([credential("bachelor degree"), credential("postgraduate degree")], "bachelor"),
        (["硕士", "博士"], "master"),
        (None, None),
    ],
)
def test_education(value, expected):
    assert ok(jsonld_item(educationRequirements=value))["education_level"] == expected


@pytest.mark.parametrize(
    ("industry", "occupation", "expected"),
    [
        ("新能源", None, "能源动力"),
        ("电力/热力", None, "能源动力"),
        ("石油化工", None, "能源动力"),  # tie: the key industry listed first wins
        ("光伏", None, "能源动力"),
        ("化工", None, "材料化工"),
        ("新材料", None, "材料化工"),
        ("机械/设备", None, "装备制造"),
        ("汽车制造", None, "装备制造"),
        ("新能源汽车", None, "能源动力"),  # longest keyword: 新能源
        ("房地产", None, "建筑地产"),
        ("建筑/土木工程", None, "建筑地产"),
        ("银行", None, "金融"),
        ("证券/基金", None, "金融"),
        ("保险", None, "金融"),
        ("互联网", None, "信息技术"),
        ("IT服务", None, "信息技术"),
        ("Information Technology", None, "信息技术"),
        ("电子商务", None, "批发零售"),  # longer than 电子
        ("教育培训", None, "教育培训"),
        ("医药", None, "医药卫生"),
        ("物流/仓储", None, "交通物流"),
        ("农业", None, "现代农业"),
        ("广告/传媒", None, "文化传媒"),
        ("政府/公共事业", None, "公共管理"),
        ("Facilities", None, "其他"),  # "it" inside a word is not IT
        ("咨询", None, "其他"),
        ("咨询", "软件开发", "信息技术"),
        (None, "银行柜员", "金融"),
        (None, None, None),
    ],
)
def test_industry(industry, occupation, expected):
    item = jsonld_item(industry=industry, occupationalCategory=occupation)  # None: the field is absent
    assert ok(item)["industry_category"] == expected


def test_industry_table_covers_the_campaign_key_industries():
    for name in config.campaign().key_industries:
        assert name in INDUSTRY_KEYWORDS
    assert INDUSTRY_CATEGORIES[:5] == config.campaign().key_industries
    assert INDUSTRY_CATEGORIES[-1] == "其他"
    assert classify_industry("保险经纪") == "金融"
    for category in INDUSTRY_CATEGORIES:
        assert classify_industry(category) == category


@pytest.mark.parametrize(
    ("openings", "expected", "warned"),
    [
        (3, 3, False),
        ("3", 3, False),
        ("3人", 3, False),
        (2.0, 2, False),
        ("若干", 1, False),
        (None, 1, False),
        (0, 1, True),
        (-2, 1, True),
        ("很多", 1, True),
        (1.5, 1, True),
    ],
)
def test_openings(openings, expected, warned):
    row, problems = normalise(jsonld_item(totalJobOpenings=openings), JSONLD)
    assert row is not None
    assert row["openings"] == expected
    assert [p.rule for p in problems] == (["openings_invalid"] if warned else [])


# --------------------------------------------------------------------------------------------------
# Flat shape and salary text
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8千-1.2万/月", (8000, 12000)),
        ("6000-8000元/月", (6000, 8000)),
        ("15-25K·13薪", (16250, 27083)),
        ("15-25k*14薪", (17500, 29167)),
        ("200元/天", (4350, 4350)),
        ("10-15万/年", (8333, 12500)),
        ("年薪20-30万", (16667, 25000)),
        ("20-30万", (16667, 25000)),  # annual pay in 万 without a period
        ("1.5-2万", (15000, 20000)),
        ("8k-12k", (8000, 12000)),
        ("8K-12K/月", (8000, 12000)),
        ("¥8,000-10,000", (8000, 10000)),
        ("6000~8000", (6000, 8000)),
        ("6000至8000元", (6000, 8000)),
        ("６０００－８０００元／月", (6000, 8000)),
        ("150元/小时", (26100, 26100)),
        ("100-150元/时", (17400, 26100)),
        ("2000元/周", (8667, 8667)),
        ("8000", (8000, 8000)),
        ("8000元/月 包吃住", (8000, 8000)),
        ("5000元以上", (5000, None)),
        ("20k+", (20000, None)),
        ("3000以下", (None, 3000)),
        ("面议", None),
        ("薪资面议", None),
        ("", None),
    ],
)
def test_salary_text(text, expected):
    assert parse_salary_text(text) == expected
    row, problems = normalise(flat_item(salary_text=text), FLAT)
    low, high = expected or (None, None)
    assert row is not None, problems
    assert (row["salary_min"], row["salary_max"]) == (low, high)


@pytest.mark.parametrize("text", ["abc", "8000/12000", "1.2.3万", "工资高", "8000元/件", "15-25K·40薪"])
def test_salary_text_that_is_not_a_salary(text):
    with pytest.raises(ValueError, match="salary"):
        parse_salary_text(text)
    row, problems = warned(flat_item(salary_text=text), FLAT)
    assert [(p.rule, p.field, p.value) for p in problems] == [("salary_unparseable", "salary", text)]
    assert (row["salary_min"], row["salary_max"]) == (None, None)


def test_salary_to_monthly():
    assert salary_to_monthly(100, "HOUR") == 17400
    assert salary_to_monthly(100, "hour") == 17400
    assert salary_to_monthly(200, "DAY") == 4350
    assert salary_to_monthly(1200, "WEEK") == 5200
    assert salary_to_monthly(9000, "MONTH") == 9000
    assert salary_to_monthly(9000, None) == 9000
    assert salary_to_monthly(120000, "YEAR") == 10000
    assert salary_to_monthly(12000, "MONTH", pay_months=13) == 13000
    assert salary_to_monthly(120000, "YEAR", pay_months=13) == 10000
    assert salary_to_monthly(200, "天") == 4350
    with pytest.raises(ValueError, match="unit"):
        salary_to_monthly(1, "PIECE")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"province": "广东省"}, {"province_code": "440000"}),
        ({"province": "Guangdong"}, {"province_code": "440000"}),
        ({"province": "广东省广州市天河区", "city": None}, {"province_code": "440000", "city": "广州市"}),
        ({"job_id": "A-1"}, {"posting_id": "A-1"}),
        ({"publish_time": "2024/5/20"}, {"date_posted": date(2024, 5, 20)}),
        ({"publish_time": "2024年5月20日"}, {"date_posted": date(2024, 5, 20)}),
        ({"update_time": 1716256800000}, {"modified_at": datetime(2024, 5, 21, 2, 0, tzinfo=UTC)}),
        ({"update_time": "1716256800"}, {"modified_at": datetime(2024, 5, 21, 2, 0, tzinfo=UTC)}),
        ({"expire_time": None}, {"valid_through": None}),
        ({"expire_time": "2024-06-30 12:00"}, {"valid_through": datetime(2024, 6, 30, 4, 0, tzinfo=UTC)}),
        ({"headcount": None}, {"openings": 1}),
        ({"salary_text": None}, {"salary_min": None, "salary_max": None}),
        ({"company_uscc": None}, {"employer_credit_code": None}),
        ({"degree": "硕士"}, {"education_level": "master"}),
        ({"job_type": "实习"}, {"employment_type": "intern"}),
    ],
)
def test_flat_variants(changes, expected):
    assert ok(flat_item(**changes), FLAT) == with_row(FLAT_ROW, **expected)


# --------------------------------------------------------------------------------------------------
# Credit code
# --------------------------------------------------------------------------------------------------


def test_reference_credit_code_is_valid():
    assert is_valid(CODE)


def test_credit_code_with_wrong_check_character_is_kept_apart_and_flagged():
    bad = CODE[:17] + ("0" if CODE[17] != "0" else "1")
    assert not is_valid(bad)
    row, problems = warned(jsonld_item(hiringOrganization={"name": "甲公司", "identifier": bad}))
    assert [(p.rule, p.field, p.value) for p in problems] == [
        ("credit_code_invalid", "employer_credit_code", bad)
    ]
    assert f"expected {CODE[17]}" in problems[0].message
    # loaded and counted, the code apart from the canonical column (which links postings)
    assert row == with_row(
        JSONLD_ROW,
        employer_name="甲公司",
        employer_credit_code=None,
        employer_credit_code_raw=bad,
        problems=row["problems"],
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (CODE[:17], "17 characters"),
        (CODE + "1", "19 characters"),
        ("91350100I000100Y43", "outside the GB 32100 set"),
        ("9135010OM000100Y4%", "outside the GB 32100 set"),
    ],
)
def test_credit_code_with_wrong_length_or_characters_is_kept_apart(code, reason):
    row, problems = warned(flat_item(company_uscc=code), FLAT)
    assert [p.rule for p in problems] == ["credit_code_invalid"]
    assert reason in problems[0].message
    assert (row["employer_credit_code"], row["employer_credit_code_raw"]) == (None, code)


def test_credit_code_with_wrong_embedded_organisation_check_is_kept_apart():
    first17 = CODE[:16] + ("0" if CODE[16] != "0" else "1")
    code = first17 + check_char(first17)
    row, problems = warned(jsonld_item(hiringOrganization={"name": "甲公司", "identifier": code}))
    assert [p.rule for p in problems] == ["credit_code_invalid"]
    assert "GB 11714" in problems[0].message
    assert (row["employer_credit_code"], row["employer_credit_code_raw"]) == (None, code)


def test_missing_credit_code_is_allowed():
    row = ok(jsonld_item(hiringOrganization={"@type": "Organization", "name": "甲公司"}))
    assert row["employer_credit_code"] is None


# --------------------------------------------------------------------------------------------------
# Time zones
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-21T10:30:00+08:00", datetime(2024, 5, 21, 2, 30, tzinfo=UTC)),
        ("2024-05-21T02:30:00Z", datetime(2024, 5, 21, 2, 30, tzinfo=UTC)),
        ("2024-05-21T02:30:00.250Z", datetime(2024, 5, 21, 2, 30, 0, 250000, tzinfo=UTC)),
        ("2024-05-21T04:30:00+10:00", datetime(2024, 5, 20, 18, 30, tzinfo=UTC)),
        ("2024-05-21T10:30:00", datetime(2024, 5, 21, 2, 30, tzinfo=UTC)),  # no zone: Shanghai
        ("2024-05-21 10:30:00", datetime(2024, 5, 21, 2, 30, tzinfo=UTC)),
        ("2024-05-21", datetime(2024, 5, 20, 16, 0, tzinfo=UTC)),
    ],
)
def test_modified_at_is_utc(value, expected):
    row = ok(jsonld_item(dateModified=value))
    assert row["modified_at"] == expected
    assert row["modified_at"].utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-06-30T18:00:00+08:00", datetime(2024, 6, 30, 10, 0, tzinfo=UTC)),
        ("2024-06-30T18:00:00", datetime(2024, 6, 30, 10, 0, tzinfo=UTC)),
        ("2024-06-30", datetime(2024, 6, 30, 15, 59, 59, tzinfo=UTC)),  # through the whole day
        ("2024-06-30T00:00:00Z", datetime(2024, 6, 30, 0, 0, tzinfo=UTC)),
        (None, None),
    ],
)
def test_valid_through_is_utc(value, expected):
    assert ok(jsonld_item(validThrough=value))["valid_through"] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-20", date(2024, 5, 20)),
        ("2024-05-19T20:00:00Z", date(2024, 5, 20)),  # 04:00 on the 20th in Beijing
        ("2024-05-20T23:30:00+08:00", date(2024, 5, 20)),
        ("2024-05-20T09:00:00", date(2024, 5, 20)),
        (None, None),
    ],
)
def test_date_posted_is_the_beijing_date(value, expected):
    assert ok(jsonld_item(datePosted=value))["date_posted"] == expected


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html_text", "expected"),
    [
        ("<p>岗位职责</p><p>1. 开发</p>", "岗位职责 1. 开发"),
        ("<div>A&amp;B &lt;C&gt; &#20013;&#x6587;</div>", "A&B <C> 中文"),
        ("<style>p {color: red}</style><p>正文</p><script>alert(1)</script>", "正文"),
        ("第一行<br/>第二行<BR>第三行", "第一行 第二行 第三行"),
        ("  多个   空格\n\n换行\t制表  ", "多个 空格 换行 制表"),
        ("<!-- 注释 --><b>加粗</b>", "加粗"),
        ("纯文本", "纯文本"),
        ("", None),
        ("<p> </p>", None),
    ],
)
def test_description_is_plain_text(html_text, expected):
    assert ok(jsonld_item(description=html_text))["description"] == expected


def test_description_is_truncated():
    row = ok(jsonld_item(description="<p>" + "很长的描述" * 2000 + "</p>"))
    assert len(row["description"]) == DESCRIPTION_MAX_CHARS


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Java开发工程师（2023届）", "java开发工程师"),
        ("Java开发工程师(2023届)", "java开发工程师"),
        ("【急招】Java开发工程师", "java开发工程师"),
        ("JAVA 开发 工程师", "java开发工程师"),
        ("Ｊａｖａ开发工程师", "java开发工程师"),
        ("2024届管培生-财务方向", "管培生财务方向"),
        ("管培生（2025校招）", "管培生"),
        ("销售代表（急招，双休）", "销售代表"),
        ("软件工程师（实习）", "软件工程师实习"),  # an internship is another job
        ("软件工程师(后端)", "软件工程师后端"),
        ("C++开发工程师", "cpp开发工程师"),
        ("C#开发工程师", "csharp开发工程师"),
    ],
)
def test_title_key(title, expected):
    assert title_key(title) == expected


def test_classifiers_answer_none_for_no_text():
    assert classify_industry(None) is None
    assert classify_education("") is None
    assert classify_employment_type(None) is None
    assert resolve_region("") is None


# --------------------------------------------------------------------------------------------------
# Renamed fields
# --------------------------------------------------------------------------------------------------


def test_name_stands_in_for_a_missing_title():
    item = jsonld_item(title=None, name="Java开发工程师（2024届）")
    assert ok(item) == JSONLD_ROW


@pytest.mark.parametrize("renamed", ["employer", "organization"])
def test_employer_or_organization_stands_in_for_hiring_organization(renamed):
    item = jsonld_item()
    item[renamed] = item.pop("hiringOrganization")
    row, problems = warned(item)
    assert row == with_row(JSONLD_ROW, problems=row["problems"])
    assert [(p.rule, p.severity) for p in problems] == [("field_renamed", Severity.WARN)]
    assert renamed in problems[0].message


def test_flat_field_under_its_canonical_name_is_read():
    item = flat_item()
    item["title"] = item.pop("job_name")
    row, problems = warned(item, FLAT)
    assert row == with_row(FLAT_ROW, problems=row["problems"])
    assert [(p.rule, p.field) for p in problems] == [("field_renamed", "job_name")]


def test_renamed_field_without_stand_in_is_missing():
    item = flat_item()
    item["position_name"] = item.pop("job_name")
    problems = rejected(item, FLAT)
    assert [(p.rule, p.field) for p in problems] == [("missing_field", "title")]
    assert "job_name" in problems[0].message


# --------------------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"identifier": None}, "posting_id", "identifier"),
        ({"identifier": {"@type": "PropertyValue", "name": "id"}}, "posting_id", "identifier"),
        ({"title": None}, "title", "title"),
        ({"title": "   "}, "title", "title"),
        ({"dateModified": None}, "modified_at", "dateModified"),
        ({"hiringOrganization": None}, "employer_name", "hiringOrganization"),
        ({"hiringOrganization": {"@type": "Organization", "identifier": CODE}}, "employer_name", "name"),
    ],
)
def test_missing_field(changes, field, named):
    problems = rejected(jsonld_item(**changes))
    assert [(p.rule, p.field) for p in problems] == [("missing_field", field)]
    assert named in problems[0].message


@pytest.mark.parametrize(
    ("salary", "words"),
    [
        ("abc元", "not a salary"),
        (money((8000, 12000), "PIECE"), "unit"),
        (money((8000, 12000), "MONTH", currency="USD"), "USD"),
        (money(("八千", 12000), "MONTH"), "八千"),
        (money(("nan", 12000), "MONTH"), "nan"),
        (True, "not a salary"),
    ],
)
def test_a_salary_that_is_not_one_is_set_aside(salary, words):
    row, problems = warned(jsonld_item(baseSalary=salary))
    assert [(p.rule, p.field) for p in problems] == [("salary_unparseable", "salary")]
    assert words in problems[0].message
    assert (row["salary_min"], row["salary_max"], row["salary_flagged"]) == (None, None, False)


@pytest.mark.parametrize(
    ("salary", "rule", "kept", "words"),
    [
        (money((12000, 8000), "MONTH"), "salary_range_invalid", (12000, 8000), "above the maximum"),
        ("12000-8000元/月", "salary_range_invalid", (12000, 8000), "above the maximum"),
        (money((100, 200), "MONTH"), "salary_implausible", (100, 200), "outside"),
        (money((200_000, 300_000), "MONTH"), "salary_implausible", (200_000, 300_000), "outside"),
        (money((20, 30), "DAY"), "salary_implausible", (435, 652), "outside"),
        (300, "salary_implausible", (300, 300), "outside"),
        (5_000_000_000, "salary_implausible", (None, None), "outside"),  # does not fit the column
    ],
)
def test_an_implausible_salary_is_kept_and_flagged(salary, rule, kept, words):
    row, problems = warned(jsonld_item(baseSalary=salary))
    assert [p.rule for p in problems] == [rule]
    assert words in problems[0].message
    assert (row["salary_min"], row["salary_max"], row["salary_flagged"]) == (*kept, True)


def test_the_plausible_range_is_the_platforms_setting():
    item = jsonld_item(baseSalary=money((1500, 2500), "MONTH"))
    assert ok(item)["salary_flagged"] is False
    strict = JSONLD.model_copy(
        update={"limits": JSONLD.limits.model_copy(update={"salary_monthly_min": 3000})}
    )
    row, problems = warned(item, strict)
    assert [p.rule for p in problems] == ["salary_implausible"]
    assert row["salary_flagged"]


@pytest.mark.parametrize(
    ("unit", "salary", "expected"),
    [
        ("MONTH", 72000, (72000, 72000)),
        ("YEAR", 72000, (6000, 6000)),
        ("YEAR", "72000", (6000, 6000)),
        ("YEAR", 72000.0, (6000, 6000)),
        ("YEAR", [96000], (8000, 8000)),
        ("YEAR", {"currency": "CNY", "value": {"minValue": 72000, "maxValue": 96000}}, (6000, 8000)),
        ("DAY", 300, (6525, 6525)),
        ("HOUR", "40", (6960, 6960)),
        # a salary that names its unit is read in that unit whatever the platform's setting
        ("YEAR", money((8000, 12000), "MONTH"), (8000, 12000)),
        ("YEAR", "8000-12000元/月", (8000, 12000)),
    ],
)
def test_a_bare_number_salary_is_in_the_platforms_unit(unit, salary, expected):
    platform = JSONLD.model_copy(update={"salary_unit": unit})
    row = ok(jsonld_item(baseSalary=salary), platform)
    assert (row["salary_min"], row["salary_max"]) == expected


def test_a_bare_yearly_number_read_per_month_is_flagged():
    """What happened before the unit was configurable: 720,000 a year read as a month's pay."""
    row, problems = warned(jsonld_item(baseSalary=720000))
    assert [p.rule for p in problems] == ["salary_implausible"]
    assert row["salary_flagged"]
    yearly = JSONLD.model_copy(update={"salary_unit": "YEAR"})
    assert ok(jsonld_item(baseSalary=720000), yearly)["salary_max"] == 60000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dateModified": "yesterday"}, "modified_at"),
        ({"dateModified": "2024-13-45T10:00:00"}, "modified_at"),
        ({"dateModified": "1970-01-01T00:00:00Z"}, "modified_at"),
    ],
)
def test_an_unreadable_modification_time_is_quarantined(changes, field):
    problems = rejected(jsonld_item(**changes))
    assert [(p.rule, p.field) for p in problems] == [("date_invalid", field)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"datePosted": "2024-02-30"}, "date_posted"),
        ({"datePosted": "20/05/2024"}, "date_posted"),
        ({"validThrough": "next month"}, "valid_through"),
        ({"validThrough": ["2024-06-30"]}, "valid_through"),
    ],
)
def test_another_unreadable_date_is_set_aside(changes, field):
    row, problems = warned(jsonld_item(**changes))
    assert [(p.rule, p.field) for p in problems] == [("date_invalid", field)]
    assert row[field] is None


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"title": "Java\x00开发工程师（2024届）"}, "title", "Java开发工程师（2024届）"),
        ({"title": "Java开发\x1b工程师（2024届）"}, "title", "Java开发工程师（2024届）"),
        ({"title": "\x85Java开发工程师（2024届）\x9f"}, "title", "Java开发工程师（2024届）"),
        ({"identifier": "ZL-\x00000123"}, "posting_id", "ZL-000123"),
        ({"url": "https://example.org/jobs/ZL-000123\x07"}, "url", "https://example.org/jobs/ZL-000123"),
        ({"description": "<p>岗位职责：</p>\x00负责后端\t开发"}, "description", "岗位职责： 负责后端 开发"),
    ],
)
def test_control_characters_are_removed_and_recorded(changes, field, expected):
    row, problems = warned(jsonld_item(**changes))
    assert [(p.rule, p.field) for p in problems] == [("control_characters", field)]
    assert row == with_row(JSONLD_ROW, **{field: expected, "problems": row["problems"]})


def test_control_characters_in_the_employer_and_an_invalid_code_are_both_recorded():
    org = {"name": "福州海峡软件\x00有限公司", "identifier": "9135\x000100"}
    row, problems = warned(jsonld_item(hiringOrganization=org))
    assert [p.rule for p in problems] == ["credit_code_invalid", "control_characters"]
    assert row["employer_name"] == "福州海峡软件有限公司"
    assert row["employer_credit_code_raw"] == "91350100"
    assert "\x00" not in row["problems"]


def test_a_title_of_control_characters_only_is_no_title():
    row, problems = normalise(jsonld_item(title="\x00\x01"), JSONLD)
    assert row is None
    assert [(p.rule, p.severity) for p in problems] == [
        ("control_characters", Severity.WARN),
        ("missing_field", Severity.REJECT),
    ]


def test_every_reason_is_reported_at_once():
    item = jsonld_item(
        identifier=None,
        title=None,
        dateModified="soon",
        baseSalary="很高",
        hiringOrganization={"identifier": "123"},
    )
    row, problems = normalise(item, JSONLD)
    assert row is None
    assert sorted((p.rule, p.field) for p in problems) == [
        ("credit_code_invalid", "employer_credit_code"),
        ("date_invalid", "modified_at"),
        ("missing_field", "employer_name"),
        ("missing_field", "posting_id"),
        ("missing_field", "title"),
        ("salary_unparseable", "salary"),
    ]
    assert all(p.message for p in problems)


@pytest.mark.parametrize("item", [None, [], "JobPosting", 42])
def test_item_that_is_not_an_object(item):
    row, problems = normalise(item, JSONLD)
    assert row is None
    assert [(p.rule, p.severity) for p in problems] == [("item_invalid", Severity.REJECT)]


def test_flat_missing_fields_name_the_feed_keys():
    problems = rejected(flat_item(job_id=None, update_time=None, company_name=None), FLAT)
    assert sorted(p.message for p in problems) == [
        "posting has no employer_name (feed field 'company_name')",
        "posting has no modified_at (feed field 'update_time')",
        "posting has no posting_id (feed field 'job_id')",
    ]


# --------------------------------------------------------------------------------------------------
# The feed simulator's postings against their ground truth
# --------------------------------------------------------------------------------------------------

_EDUCATION_TRUTH = {"大专": "associate", "本科": "bachelor", "硕士": "master", "博士": "doctorate"}
_EMPLOYMENT_TRUTH = {
    "FULL_TIME": "full_time",
    "INTERN": "intern",
    "PART_TIME": "part_time",
    "CONTRACTOR": "contract",
    "TEMPORARY": "temporary",
}


def test_simulator_postings_normalise_to_their_truth():
    simulator = pytest.importorskip("recruitment_devkit.feed_simulator")
    sim = simulator.FeedSimulator(postings_per_platform=300)
    checked = defects = 0
    for platform in config.platforms():
        for entry in sim.iter_expected(platform.code):
            truth = entry["truth"]
            row, problems = normalise(entry["item"], platform)
            if entry["defect"] == "missing_title":
                defects += 1
                assert row is None
                assert [p.rule for p in problems] == ["missing_field"]
                continue
            assert row is not None, (entry["item"], problems)
            if entry["defect"] == "bad_credit_code":  # loaded, the code kept apart
                defects += 1
                assert [p.rule for p in problems] == ["credit_code_invalid"]
                assert row["employer_credit_code_raw"] == truth["employer_credit_code"]
                truth = {**truth, "employer_credit_code": None}
            else:
                assert problems == []
            if truth["salary_unit"] is None:  # the simulator's salary-as-text defect is 面议
                salary = (None, None)
            else:
                text = str(entry["item"])
                months = next((n for n in (13, 14, 15) if f"{n}薪" in text), 12)
                salary = (
                    salary_to_monthly(truth["salary_min"], truth["salary_unit"], months),
                    salary_to_monthly(truth["salary_max"], truth["salary_unit"], months),
                )
            assert row == with_row(
                row,
                posting_id=truth["posting_id"],
                title_key=title_key(truth["base_title"]),
                employer_name=truth["employer_name"],
                employer_credit_code=truth["employer_credit_code"],
                province_code=truth["province_code"],
                industry_category=truth["industry"],
                education_level=_EDUCATION_TRUTH[truth["education"]],
                employment_type=_EMPLOYMENT_TRUTH[truth["employment_type"]],
                salary_min=salary[0],
                salary_max=salary[1],
                openings=truth["openings"],
                date_posted=datetime.fromisoformat(truth["date_posted"]).date(),
                valid_through=datetime.fromisoformat(truth["valid_through"]),
                modified_at=truth["modified_at"],
                url=truth["url"],
            )
            checked += 1
    assert checked > 3000
    assert defects > 0


# --------------------------------------------------------------------------------------------------
# The short ways for the usual shapes give what the general rules give
# --------------------------------------------------------------------------------------------------


def _reference_description(value):
    """The description rules as first written: scripts and styles, then tags, entities, spaces."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if "<" in text:
        if "<s" in text or "<S" in text:
            text = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", text, flags=re.I | re.S)
        text = re.sub(r"<!--.*?-->|<[^>]*>", " ", text, flags=re.S)
    if "&" in text:
        text = html.unescape(text)
    text = " ".join(text.split())
    return text[:DESCRIPTION_MAX_CHARS] or None


@pytest.mark.parametrize(
    "text",
    [
        "<p><strong>岗位职责：</strong></p><ul><li>研发；</li><li>沟通。</li></ul><p>济南市&nbsp;|&nbsp;1人<br/>福利</p>",
        "<p>a</p>\n<p>b</p>  <br> c\t\u3000d\xa0e",
        "<strong>x</strong><script>var a = '<p>';</script>y<STYLE>p {}</STYLE >z",
        "<strong>x</strong><ſcript>hidden</script>y",  # re.I lets ſ match s
        "<SCRIPT>a</script><!-- <p>comment</p> -->b<!-- open",
        "&amp&nbsp;x &&nbsp;y &#65&nbsp;z &#x&nbsp;w &notin&nbsp;v &lt;&nbsp;&gt; &nbsp&nbsp;",
        "&" + "a" * 31 + "&nbsp;b &" + "a" * 40 + "&nbsp;c",
        "a <b c> d < e > f <g",
        "<p></p><p> </p>",
        "&nbsp;&nbsp;",
        "   ",
        "plain text, no markup",
        "x  y",
        "x" * (DESCRIPTION_MAX_CHARS + 10) + "<p>y</p>",
        12345,
        None,
    ],
)
def test_description_fast_path_matches_the_rules(text):
    assert normalise_module._description(text) == _reference_description(text)


def _reference_text(value: str):
    s = value.strip()
    if not s:
        return None
    if "&" in s:
        s = html.unescape(s)
    if "  " in s or "\n" in s or "\t" in s or "\r" in s or "\u3000" in s:
        s = " ".join(s.split())
    return s or None


@pytest.mark.parametrize(
    "text",
    [
        "Java开发",
        " 有空格 ",
        "a  b",
        "a\nb",
        "a\tb",
        "a\rb",
        "a\u3000b",
        "a\xa0b",
        "a\u2028b",
        "R&amp;D",
        "",
        "  ",
    ],
)
def test_text_fast_path_matches_the_rules(text):
    assert normalise_module._text(text) == _reference_text(text)


@pytest.mark.parametrize(
    "salary",
    [
        {"currency": "CNY", "value": {"minValue": 8000, "maxValue": 12000, "unitText": "MONTH"}},
        {"currency": "RMB", "value": {"value": 300, "unitText": "DAY"}},
        {"value": {"minValue": 100000, "maxValue": 150000, "unitText": " year "}},
        {"currency": "CNY", "value": {"minValue": 8000.0, "maxValue": 12000, "unitText": "MONTH"}},
        {"currency": "CNY", "value": {"minValue": "8000", "maxValue": "12000", "unitText": "MONTH"}},
        {"currency": "CNY", "value": {"minValue": True, "maxValue": 12000, "unitText": "MONTH"}},
        {"currency": "CNY", "value": {"minValue": 8000, "unitText": "MONTH"}},
        {"currency": "CNY", "value": {"value": "8-12K", "unitText": "MONTH"}},
        {"currency": "CNY", "unitText": "HOUR", "value": {"value": 50, "unitText": ""}},
        {"currency": "CNY", "unitText": "HOUR", "value": {"value": 50}},
        {"currency": "CNY", "value": {"value": 50, "unitText": "FORTNIGHT"}},
        {"currency": "CNY", "value": {"value": 50, "unitText": "  "}},
        {"currency": "CNY", "value": {"value": 50, "unitText": 7}},
        {"currency": "USD", "value": {"minValue": 8000, "maxValue": 12000, "unitText": "MONTH"}},
        {"currency": 156, "value": {"minValue": 8000, "maxValue": 12000, "unitText": "MONTH"}},
        {"currency": "CNY", "minValue": 8000, "maxValue": 12000, "unitText": "MONTH"},
        {"currency": "CNY", "value": 9000, "unitText": "MONTH"},
    ],
)
def test_salary_fast_path_matches_the_general_rules(salary):
    def read(reader):
        try:
            return reader(copy.deepcopy(salary))
        except normalise_module._Reject as exc:
            return exc.rule, exc.message

    assert read(normalise_module._salary) == read(normalise_module._salary_general)


@pytest.mark.parametrize(
    "salary", ["8000", "8,000", "8千-1.2万/月", "面议", "", "工资高", 8000, True, 8000.5]
)
def test_salary_text_and_numbers_match_the_general_rules(salary):
    def read(reader):
        try:
            return reader(salary)
        except normalise_module._Reject as exc:
            return exc.rule, exc.message

    assert read(normalise_module._salary) == read(normalise_module._salary_general)


def test_local_time_to_utc_is_the_zone_conversion():
    # _as_utc converts Asia/Shanghai wall time by arithmetic; it must agree with the zone database
    shanghai = normalise_module.SHANGHAI
    moments = [
        datetime(2000, 1, 1, tzinfo=shanghai),
        datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=shanghai),
    ]
    moments += [
        datetime(year, month, 1, hour, 30, 15, 250, tzinfo=shanghai)
        for year in (2000, 2023, 2099)
        for month in (1, 7)
        for hour in (0, 7, 8, 23)
    ]
    for moment in moments:
        expected = moment.astimezone(UTC)
        got = normalise_module._as_utc(moment)
        assert got == expected
        assert got.tzinfo is UTC
        assert got.fold == expected.fold


@pytest.mark.parametrize(
    "text",
    [
        "2023-01-13T23:59:59+08:00",
        "2023-01-13T16:30:00Z",
        "2023-01-13T00:30:00+09:00",
        "2023-01-13 00:30:00",
        "2023-01-13",
        "20230113",
        "2023年1月13日 8:05",
        "1673625600",
    ],
)
def test_date_and_moment_texts_match_the_zone_conversion(text):
    what = "datePosted"
    moment = normalise_module._moment_text(text, what, False)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=normalise_module.SHANGHAI)
    utc = moment.astimezone(UTC)
    assert normalise_module._datetime(text, what) == utc
    assert normalise_module._datetime(text, what, memo=True) == utc
    if len(text) != 10:
        assert normalise_module._date(text, what) == utc.astimezone(normalise_module.SHANGHAI).date()


def test_memoised_readers_answer_other_types_by_the_general_rules():
    # lists and dicts are no cache keys: they go the general way
    assert normalise_module._place(["广东省"], None) == normalise_module._place_general(["广东省"], None)
    assert normalise_module._place("广东", "深圳") == normalise_module._place_general("广东", "深圳")
    assert normalise_module._industry(["软件"], {"name": "银行"}) == normalise_module._industry_general(
        ["软件"], {"name": "银行"}
    )
    assert normalise_module._industry("软件", "银行") == normalise_module._industry_general("软件", "银行")


def test_flat_item_without_any_missing_field_is_read_in_one_pass():
    # every field present: no stand-in looked for, no field_renamed warning
    posting, problems = normalise(flat_item(), FLAT)
    assert posting is not None
    assert not [p for p in problems if p.rule == "field_renamed"]
