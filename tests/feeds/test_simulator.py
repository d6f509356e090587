"""The feed simulator over real HTTP on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import time
import zlib
from collections import Counter, defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from recruitment_devkit.feed_simulator import DEFECTS, FAULTS, FeedSimulator
from recruitment_month import config
from recruitment_month.feeds import creditcode
from recruitment_month.settings import settings

TOKEN = "demo-token"
VOLUME = 600
SINCE = "2022-11-10T00:00:00+08:00"
UNTIL = "2022-11-25T12:00:00+08:00"
JSONLD = [p.code for p in config.platforms() if p.adapter == "jsonld"]
FLAT = [p.code for p in config.platforms() if p.adapter == "flat"]


@pytest.fixture(scope="module")
def sim():
    with FeedSimulator(postings_per_platform=VOLUME) as s:
        yield s


@pytest.fixture(autouse=True)
def _no_faults(sim):
    sim.clear_faults()
    yield
    sim.clear_faults()


@pytest.fixture
def http():
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        yield s


def get_page(http, sim, code, cursor=None, **query):
    """One page of ``code``'s feed; ``query``: limit, since, until (the window), timeout, stream."""
    params = {"updated_since": query.get("since", SINCE), "updated_until": query.get("until", UNTIL)}
    if cursor:
        params["cursor"] = cursor
    if query.get("limit"):
        params["limit"] = query["limit"]
    url = sim.base_url(code) + "/jobs"
    return http.get(url, params=params, timeout=query.get("timeout", 10), stream=query.get("stream", False))


def fetch_all(http, sim, code, limit=None, **window):
    """Follow next_cursor to the end; every page, as served (``window``: since, until)."""
    pages, cursor = [], None
    while True:
        r = get_page(http, sim, code, cursor, limit=limit, **window)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10_000


def ident(item):
    value = item.get("identifier", item.get("job_id"))
    return value["value"] if isinstance(value, dict) else value


def all_items(sim, codes):
    return {code: [e["item"] for e in sim.expected_postings(code)] for code in codes}


# ----------------------------------------------------------------------------------------------- window


@pytest.mark.parametrize("limit", [1, 7, 50, 333, 1000])
def test_paging_covers_the_window_exactly(sim, http, limit):
    expected = sim.expected_postings("zhilian", SINCE, UNTIL)
    assert 100 < len(expected) < VOLUME
    if limit == 1:  # one-item pages over a short window keep the test fast
        since, until = SINCE, "2022-11-11T12:00:00+08:00"
        expected = sim.expected_postings("zhilian", since, until)
        pages = fetch_all(http, sim, "zhilian", limit, since=since, until=until)
    else:
        pages = fetch_all(http, sim, "zhilian", limit)
    items = [item for page in pages for item in page]
    assert items == [e["item"] for e in expected]
    assert all(len(page) <= limit for page in pages)
    assert len({ident(i) for i in items}) == len(items)


def test_window_bounds_and_order(sim):
    since, until = datetime.fromisoformat(SINCE), datetime.fromisoformat(UNTIL)
    expected = sim.expected_postings("qiancheng", since, until)
    keys = [(e["modified_at"], e["posting_id"]) for e in expected]
    assert keys == sorted(keys)
    assert all(since <= e["modified_at"] < until for e in expected)
    everything = sim.expected_postings("qiancheng")
    assert len(everything) == VOLUME == sim.expected_count("qiancheng")
    inside = [e for e in everything if since <= e["modified_at"] < until]
    assert [e["posting_id"] for e in inside] == [e["posting_id"] for e in expected]
    # the served dateModified is the ground truth's instant
    for e in expected[:50]:
        assert datetime.fromisoformat(e["item"]["dateModified"]) == e["modified_at"]


def test_exact_boundaries(sim, http):
    entries = sim.expected_postings("liepin")
    pivot = entries[300]["modified_at"]
    after = sim.expected_postings("liepin", pivot, None)
    before = sim.expected_postings("liepin", None, pivot)
    assert after[0]["modified_at"] == pivot  # updated_since is inclusive
    assert all(e["modified_at"] < pivot for e in before)  # updated_until is exclusive
    assert len(after) + len(before) == VOLUME
    r = get_page(http, sim, "liepin", since=pivot.isoformat(), until="2023-01-01T00:00:00Z", limit=5)
    assert [ident(i) for i in r.json()["data"]] == [e["posting_id"] for e in after[:5]]


def test_determinism_by_seed(sim, http):
    with FeedSimulator(["zhilian", "tongcheng58"], postings_per_platform=VOLUME) as twin:
        for code in ("zhilian", "tongcheng58"):
            assert fetch_all(http, twin, code, 1000) == fetch_all(http, sim, code, 1000)
    other = FeedSimulator(["zhilian", "tongcheng58"], seed=7, postings_per_platform=VOLUME)
    mine = sim.expected_postings("zhilian", SINCE, UNTIL)
    theirs = other.expected_postings("zhilian", SINCE, UNTIL)
    assert [e["item"]["title"] for e in mine[:30] if "title" in e["item"]] != [
        e["item"].get("title") for e in theirs[:30] if "title" in e["item"]
    ]


def test_limit_is_capped_and_defaults_to_page_size(sim, http):
    lagou = config.platform("lagou")
    r = get_page(http, sim, "lagou", since="2022-11-01T00:00:00Z", until="2023-01-01T00:00:00Z")
    assert len(r.json()["data"]) == lagou.page_size
    with FeedSimulator(["lagou"], postings_per_platform=2500) as big:
        r = get_page(http, big, "lagou", limit=5000, since=SINCE, until="2023-01-01T00:00:00Z")
        assert len(r.json()["data"]) == 1000
        assert r.json()["next_cursor"]


# ----------------------------------------------------------------------------------------------- HTTP


def test_health_and_auth(sim, http):
    assert requests.get(sim.url + "/health", timeout=5).status_code == 200
    url = sim.base_url("zhilian") + "/jobs"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = requests.get(url, headers=headers, timeout=5)
        assert r.status_code == 401
        assert r.headers["Content-Type"].startswith("application/json")
        assert "error" in r.json()
    assert get_page(http, sim, "zhilian", limit=1).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"updated_since": "yesterday"},
        {"updated_since": "2022-11-10T00:00:00"},  # no time zone
        {"updated_since": "2022-11-20T00:00:00Z", "updated_until": "2022-11-10T00:00:00Z"},
        {"limit": "0"},
        {"limit": "many"},
        {"cursor": "not-a-cursor"},
        {"cursor": "dGVuY2VudDox"},  # another platform's cursor
    ],
)
def test_bad_parameters_answer_400(sim, http, params):
    r = http.get(sim.base_url("zhilian") + "/jobs", params=params, timeout=5)
    assert r.status_code == 400
    assert r.json()["message"]


def test_unknown_routes(sim, http):
    assert http.get(sim.url + "/p/nosuch/jobs", timeout=5).status_code == 404
    assert http.get(sim.url + "/nothing", timeout=5).status_code == 404


def test_unencoded_plus_in_offset_is_tolerated(sim, http):
    url = sim.base_url("zhilian") + "/jobs?limit=3&updated_since=2022-11-10T00:00:00+08:00"
    assert http.get(url, timeout=5).status_code == 200


# ----------------------------------------------------------------------------------------------- faults


def test_fault_names():
    assert set(FAULTS) == {
        "http_500",
        "rate_limit_429",
        "timeout",
        "repeat_page",
        "repeat_posting",
        "truncated_body",
        "html_error_200",
        "renamed_field",
        "gzip_bomb",
        "drip",
        "endless_cursor",
        "control_characters",
        "bad_credit_codes",
        "bare_salary",
    }


def test_gzip_bomb_is_small_on_the_wire_and_huge_inflated(sim, http):
    sim.set_fault("zhilian", "gzip_bomb", times=1, inflated_bytes=20 * 2**20)
    r = get_page(http, sim, "zhilian", limit=5, stream=True)
    wire = r.raw.read(decode_content=False)
    assert r.headers["Content-Encoding"] == "gzip"
    assert len(wire) < 100_000
    inflated = zlib.decompress(wire, 31)
    assert len(inflated) == 20 * 2**20
    assert len(json.loads(inflated)["data"]) == 5
    assert get_page(http, sim, "zhilian", limit=5).headers.get("Content-Encoding") is None  # once


def test_endless_cursor_never_ends(sim, http):
    sim.set_fault("zhilian", "endless_cursor")
    cursor, seen = None, set()
    total = sim.expected_count("zhilian", SINCE, UNTIL)
    for _ in range(total // 50 + 5):
        page = get_page(http, sim, "zhilian", cursor, limit=50).json()
        cursor = page["next_cursor"]
        assert cursor
        assert cursor not in seen
        seen.add(cursor)


@pytest.mark.parametrize(
    ("fault", "options", "message"),
    [
        ("bare_salary", {"unit": "FORTNIGHT"}, "bare_salary unit"),
        ("control_characters", {"every": 0}, "every must be at least 1"),
        ("gzip_bomb", {"inflated_bytes": -1}, "non-negative"),
    ],
)
def test_new_fault_options_are_checked(sim, fault, options, message):
    with pytest.raises(ValueError, match=message):
        sim.set_fault("zhilian", fault, **options)


def test_http_500_first_n_then_recovers(sim, http):
    sim.set_fault("zhilian", "http_500", times=2, status=503)
    assert [get_page(http, sim, "zhilian", limit=5).status_code for _ in range(4)] == [503, 503, 200, 200]
    assert sim.faults()["zhilian"]["http_500"]["fired"] == 2
    assert get_page(http, sim, "qiancheng", limit=5).status_code == 200  # other platforms unaffected


def test_http_500_every_nth(sim, http):
    sim.set_fault("zhilian", "http_500", every=3)
    codes = [get_page(http, sim, "zhilian", limit=2).status_code for _ in range(6)]
    assert codes == [200, 200, 500, 200, 200, 500]


def test_rate_limit_429_with_retry_after(sim, http):
    sim.set_fault("liepin", "rate_limit_429", times=2, retry_after=3)
    first = get_page(http, sim, "liepin", limit=5)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert get_page(http, sim, "liepin", limit=5).status_code == 429
    assert get_page(http, sim, "liepin", limit=5).status_code == 200


def test_timeout(sim, http):
    sim.set_fault("lagou", "timeout", times=1, seconds=1.5)
    with pytest.raises(requests.Timeout):
        get_page(http, sim, "lagou", limit=5, timeout=0.3)
    assert get_page(http, sim, "lagou", limit=5, timeout=5).status_code == 200


def test_truncated_body(sim, http):
    sim.set_fault("zhilian", "truncated_body", times=1)
    r = get_page(http, sim, "zhilian", limit=20)
    assert r.status_code == 200
    # cut JSON, or a UTF-8 character cut in two
    with pytest.raises(ValueError, match=r"Expecting|Unterminated|can't decode"):
        json.loads(r.content)
    assert get_page(http, sim, "zhilian", limit=20).json()["data"]


def test_truncated_body_reset_mode(sim, http):
    sim.set_fault("zhilian", "truncated_body", times=1, mode="reset")
    with pytest.raises(requests.exceptions.RequestException):
        get_page(http, sim, "zhilian", limit=20)
    assert get_page(http, sim, "zhilian", limit=20).json()["data"]


def test_html_error_200(sim, http):
    sim.set_fault("chinahr", "html_error_200")  # default: the first 2 requests
    for _ in range(2):
        r = get_page(http, sim, "chinahr", limit=5)
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/html")
        assert r.text.lstrip().startswith("<!DOCTYPE html>")
    assert get_page(http, sim, "chinahr", limit=5).json()["data"]


def test_repeat_page(sim, http):
    expected = [e["item"] for e in sim.expected_postings("maimai", SINCE, UNTIL)]
    sim.set_fault("maimai", "repeat_page", page=2)
    pages = fetch_all(http, sim, "maimai", 40)
    assert pages[2] == pages[1]  # page 2 came twice
    served = [i for page in pages for i in page]
    assert len(served) == len(expected) + len(pages[1])
    unique = list({ident(i): i for i in served}.values())
    assert unique == expected


def test_repeat_posting(sim, http):
    expected = [e["item"] for e in sim.expected_postings("nowcoder", SINCE, UNTIL)]
    sim.set_fault("nowcoder", "repeat_posting", page=2)
    pages = fetch_all(http, sim, "nowcoder", 40)
    assert pages[1][-1] == pages[2][0]  # end of page 2 again at the start of page 3
    assert pages[0][-1] != pages[1][0]
    served = [i for page in pages for i in page]
    assert len(served) == len(expected) + 1
    assert list({ident(i): i for i in served}.values()) == expected


def test_renamed_field(sim, http):
    sim.set_fault("kanzhun", "renamed_field")
    items = get_page(http, sim, "kanzhun", limit=50).json()["data"]
    assert not any("title" in i for i in items)
    assert sum("name" in i for i in items) >= 45  # a few may have no title at all (defects)
    sim.set_fault("kanzhun", "renamed_field", **{"from": "hiringOrganization", "to": "employer"})
    items = get_page(http, sim, "kanzhun", limit=50).json()["data"]
    assert all("employer" in i and "hiringOrganization" not in i for i in items)
    assert all("title" in i or "name" not in i for i in items)  # replaced, not added
    sim.set_fault("tongcheng58", "renamed_field", from_="company_name", to="corp_name")
    items = get_page(http, sim, "tongcheng58", limit=20).json()["data"]
    assert all("corp_name" in i and "company_name" not in i for i in items)


def test_faults_over_http(sim, http):
    def post(body):
        return http.post(sim.url + "/admin/faults", json=body, timeout=5)

    r = post({"platform": "yingjiesheng", "fault": "http_500", "options": {"times": 1}})
    assert r.status_code == 200
    assert r.json()["yingjiesheng"]["http_500"]["options"]["times"] == 1
    assert get_page(http, sim, "yingjiesheng", limit=5).status_code == 500
    assert http.get(sim.url + "/admin/faults", timeout=5).json()["yingjiesheng"]["http_500"]["fired"] == 1
    post({"platform": "yingjiesheng", "fault": "rate_limit_429"})
    assert http.delete(sim.url + "/admin/faults", timeout=5).json() == {}
    assert get_page(http, sim, "yingjiesheng", limit=5).status_code == 200
    post({"platform": "*", "fault": "html_error_200", "options": {"times": 1}})
    assert set(sim.faults()) == set(sim.platform_codes)
    http.delete(sim.url + "/admin/faults", params={"platform": "zhilian"}, timeout=5)
    assert "zhilian" not in sim.faults()
    assert "lagou" in sim.faults()
    assert post({"platform": "yingjiesheng", "fault": "meteor"}).status_code == 400
    assert (
        post({"platform": "yingjiesheng", "fault": "http_500", "options": {"colour": "red"}}).status_code
        == 400
    )
    assert post({"platform": "nosuch", "fault": "timeout"}).status_code == 400
    assert post({"fault": "timeout"}).status_code == 400


def test_retrying_client_ends_with_the_ground_truth(sim, http):
    """Every failing fault at once: a client that retries and de-duplicates gets exactly the truth."""
    for fault in ("http_500", "rate_limit_429", "truncated_body", "html_error_200"):
        sim.set_fault("shixiseng", fault)
    sim.set_fault("shixiseng", "timeout", seconds=1)
    sim.set_fault("shixiseng", "repeat_page", page=3)
    sim.set_fault("shixiseng", "repeat_posting", page=5)
    got, cursor, attempts = {}, None, 0
    while True:
        attempts += 1
        assert attempts < 100
        try:
            r = get_page(http, sim, "shixiseng", cursor, limit=30, timeout=0.5)
            if r.status_code != 200:
                continue
            body = r.json()
        except (requests.RequestException, ValueError):
            continue
        for item in body["data"]:
            got.setdefault(ident(item), item)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert list(got.values()) == [e["item"] for e in sim.expected_postings("shixiseng", SINCE, UNTIL)]
    fired = {name: f["fired"] for name, f in sim.faults()["shixiseng"].items()}
    assert fired == {
        "http_500": 2,
        "rate_limit_429": 2,
        "truncated_body": 2,
        "html_error_200": 2,
        "timeout": 2,
        "repeat_page": 1,
        "repeat_posting": 1,
    }


# ----------------------------------------------------------------------------------------------- content


def test_jsonld_variants_all_appear(sim):
    items = [i for code in JSONLD[:4] for i in all_items(sim, [code])[code]]
    seen = Counter()
    for item in items:
        assert item["@context"] == "https://schema.org"
        assert item["@type"] == "JobPosting"
        for key in ("description", "datePosted", "validThrough", "dateModified", "url", "industry"):
            assert key in item
        assert "<p>" in item["description"]
        salary = item["baseSalary"]
        if isinstance(salary, int | float):
            seen["salary:number"] += 1
        elif isinstance(salary, str):
            seen["salary:numeric string" if salary.isdigit() else "salary:text"] += 1
        else:
            assert salary["@type"] == "MonetaryAmount"
            value = salary["value"]
            assert value["@type"] == "QuantitativeValue"
            seen["salary:range" if "minValue" in value else "salary:value"] += 1
            seen[f"unit:{value['unitText']}"] += 1
        etype = item["employmentType"]
        seen[f"etype:{type(etype).__name__}"] += 1
        for text in etype if isinstance(etype, list) else [etype]:
            seen["etype:lower" if text.islower() else "etype:upper" if text.isupper() else "etype:mixed"] += 1
        seen[f"location:{type(item['jobLocation']).__name__}"] += 1
        places = item["jobLocation"] if isinstance(item["jobLocation"], list) else [item["jobLocation"]]
        assert all(p["address"]["@type"] == "PostalAddress" for p in places)
        seen[f"identifier:{type(item['identifier']).__name__}"] += 1
        org = item["hiringOrganization"]
        assert org["@type"] == "Organization"
        assert org["name"]
        seen[f"org identifier:{type(org['identifier']).__name__}"] += 1
        valid = item["validThrough"]
        seen["valid:tz" if valid.endswith("+08:00") else "valid:naive" if "T" in valid else "valid:date"] += 1
        edu = item["educationRequirements"]
        if isinstance(edu, dict):
            assert edu["@type"] == "EducationalOccupationalCredential"
            seen["edu:credential"] += 1
        else:
            seen["edu:english" if edu.isascii() else "edu:chinese"] += 1
        assert isinstance(item["totalJobOpenings"], int)
    wanted = {
        "salary:number", "salary:numeric string", "salary:text", "salary:range", "salary:value",
        "unit:HOUR", "unit:DAY", "unit:WEEK", "unit:MONTH", "unit:YEAR", "unit:month",
        "etype:str", "etype:list", "etype:lower", "etype:upper", "etype:mixed",
        "location:dict", "location:list", "identifier:dict", "identifier:str",
        "org identifier:dict", "org identifier:str", "valid:tz", "valid:naive", "valid:date",
        "edu:credential", "edu:english", "edu:chinese",
    }  # fmt: skip
    assert wanted <= set(seen), wanted - set(seen)


def test_content_is_realistic(sim):
    entries = [e for code in sim.platform_codes for e in sim.expected_postings(code)]
    truths = [e["truth"] for e in entries]
    industries = Counter(t["industry"] for t in truths)
    for name in ("能源动力", "材料化工", "装备制造", "建筑地产", "金融", "信息技术", "教育培训", "医药卫生"):
        assert industries[name] > 0, name
    assert industries.most_common(1)[0][0] == "信息技术"
    provinces = Counter(t["province_code"] for t in truths)
    assert len(provinces) >= 28
    assert provinces["440000"] > provinces["630000"]
    assert {t["education"] for t in truths} == {"大专", "本科", "硕士", "博士"}
    units = config.units()
    regions = Counter()
    for e in entries:
        item = e["item"]
        if "province" in item:
            region = item["province"]
        else:
            loc = item["jobLocation"]
            region = (loc[0] if isinstance(loc, list) else loc)["address"]["addressRegion"]
        assert units.resolve(region) == e["truth"]["province_code"]
        regions["full" if region.endswith(("省", "市", "自治区", "兵团")) else "short"] += 1
    assert regions["full"]
    assert regions["short"]
    assert any(t["employer_name"].endswith("有限公司") for t in truths)


def test_flat_platform_uses_the_field_map():
    field_map = config.platform("tongcheng58").field_map
    items = all_items(FeedSimulator(FLAT, postings_per_platform=5000), FLAT)["tongcheng58"]
    keys = set(field_map.values())
    salaries = set()
    for item in items:
        assert set(item) <= keys
        assert set(item) >= keys - {field_map["title"]}
        salaries.add(item["salary_text"])
    assert any("元/月" in s for s in salaries)
    assert any("万" in s or "千" in s for s in salaries)
    assert any("K" in s for s in salaries)
    assert any("元/天" in s or "元/小时" in s for s in salaries)
    assert "面议" in salaries
    assert datetime.strptime(items[0]["update_time"], "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=ZoneInfo("Asia/Shanghai")
    )  # Beijing time, no zone


def test_credit_codes_valid_except_deliberate_defects(sim):
    defects = Counter()
    total = 0
    for code in sim.platform_codes:
        for e in sim.expected_postings(code):
            total += 1
            item = e["item"]
            org_code = item.get("company_uscc") or item.get("hiringOrganization", {}).get("identifier")
            org_code = org_code["value"] if isinstance(org_code, dict) else org_code
            assert creditcode.is_valid(org_code) == (e["defect"] != "bad_credit_code")
            assert sim.defect(code, e["posting_id"]) == e["defect"]
            if e["defect"]:
                defects[e["defect"]] += 1
            if e["defect"] == "missing_title":
                assert not item.get("title")
                assert not item.get("job_name")
            if e["defect"] == "salary_text":
                assert item.get("baseSalary", item.get("salary_text")) == "面议"
    assert set(defects) == set(DEFECTS)
    assert 0.005 < sum(defects.values()) / total < 0.03


def test_cross_platform_duplicates(sim):
    clusters = defaultdict(list)
    count = 0
    for code in sim.platform_codes:
        for e in sim.expected_postings(code):
            clusters[e["job_key"]].append((code, e))
            count += 1
    shared = {k: v for k, v in clusters.items() if len(v) > 1}
    share_of_jobs = len(shared) / len(clusters)
    assert 0.10 < share_of_jobs < 0.25
    assert {len(v) for v in shared.values()} == {2, 3}
    title_differs = modified_differs = 0
    for key, copies in shared.items():
        assert len({code for code, _ in copies}) == len(copies)  # on different platforms
        truths = [e["truth"] for _, e in copies]
        assert len({t["employer_name"] for t in truths}) == 1
        assert len({t["employer_credit_code"] for t in truths if not t["defect"]}) <= 1
        assert len({t["base_title"] for t in truths}) == 1
        assert len({t["city"] for t in truths}) == 1
        assert len({e["posting_id"] + c for c, e in copies}) == len(copies)
        title_differs += len({t["title"] for t in truths}) > 1
        modified_differs += len({t["modified_at"] for t in truths}) > 1
        assert sorted(sim.job_members(key)) == sorted((c, e["posting_id"]) for c, e in copies)
    assert title_differs > len(shared) / 4
    assert modified_differs == len(shared)


def test_a_million_postings_per_platform_answers(http):
    big = FeedSimulator(["zhilian", "tongcheng58"], postings_per_platform=1_000_000)
    with big:
        since, until = "2022-12-10T00:00:00+08:00", "2022-12-10T06:00:00+08:00"
        count = big.expected_count("zhilian", since, until)
        assert 3000 < count < 5000
        first = get_page(http, big, "zhilian", limit=1000, since=since, until=until).json()
        second = get_page(
            http, big, "zhilian", first["next_cursor"], limit=1000, since=since, until=until
        ).json()
        assert len(first["data"]) == len(second["data"]) == 1000
        expected = [e["item"] for e in big.iter_expected("zhilian", since, until)][:2000]
        assert first["data"] + second["data"] == expected
        flat = get_page(http, big, "tongcheng58", limit=10, since=since, until=until).json()
        assert len(flat["data"]) == 10


def test_command_line_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "recruitment_devkit.feed_simulator", "--port", str(port), "--volume", "100"],
        env={"PYTHONPATH": os.pathsep.join(str(settings().home / d) for d in ("plugins", "devkit"))},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                assert proc.poll() is None
                time.sleep(0.1)
        assert health.status_code == 200
        r = requests.get(
            f"http://127.0.0.1:{port}/p/zhilian/jobs",
            headers={"Authorization": f"Bearer {TOKEN}"},
            params={"updated_since": datetime(2022, 11, 1, tzinfo=UTC).isoformat()},
            timeout=5,
        )
        assert len(r.json()["data"]) == 100
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_repost_variation_writes_some_reposts_as_some_platforms_do():
    """Only reposts vary, by about the share asked for: no credit code, no city, or the place in the
    title; the ground truth says what the item says."""
    plain = FeedSimulator(postings_per_platform=1500, seed=5)
    varied = FeedSimulator(postings_per_platform=1500, seed=5, repost_variation=0.3)
    kinds = {"no code": 0, "no city": 0, "place in title": 0}
    shared = 0
    for code in ("zhilian", "tongcheng58"):
        for x, y in zip(plain.expected_postings(code), varied.expected_postings(code), strict=True):
            a, b = {**x["truth"], "item": x["item"]}, {**y["truth"], "item": y["item"]}
            if a["job_key"][0] != "s":
                assert a["item"] == b["item"]
                continue
            shared += 1
            if b["employer_credit_code"] is None and a["employer_credit_code"] is not None:
                kinds["no code"] += 1
                assert a["employer_credit_code"] not in json.dumps(b["item"], ensure_ascii=False)
            elif b["title"] != a["title"]:
                kinds["place in title"] += 1
                assert b["title"].startswith(a["title"])
                assert b["title"].endswith("）")
            elif b["item"] != a["item"]:
                kinds["no city"] += 1
    assert all(n > 0 for n in kinds.values()), kinds
    assert 0.2 < sum(kinds.values()) / shared < 0.4
