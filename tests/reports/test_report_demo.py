"""The demo inbox: deterministic, realistic, and every file parses the way the manifest says."""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from report_builders import parse

from recruitment_devkit import demo_inbox as demo
from recruitment_devkit.demo_inbox import STATUS_COUNTS, generate_inbox, generate_week, plan_campaign
from recruitment_month.problems import rejects
from recruitment_month.reports import fields as F


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("inbox")
    return root, generate_inbox(root)


def test_the_plan_depends_only_on_the_seed(campaign):
    first, second = plan_campaign(2022), plan_campaign(2022)
    assert first.reports == second.reports
    sample = [f for f in first.files() if f.week_ending == campaign.weeks[0]][:40]
    twins = {f.path: f for f in second.files()}
    for file in sample:
        assert demo.render(file) == demo.render(twins[file.path]), file.path
    other = plan_campaign(7)
    assert other.reports != first.reports
    assert other.counts() == first.counts()


def test_thirty_two_units_by_eight_weeks_with_the_planned_statuses(inbox, campaign):
    _, manifest = inbox
    assert len(manifest.reports) == 32 * len(campaign.weeks) == 256
    expected = {**STATUS_COUNTS, "on_time": 256 - sum(STATUS_COUNTS.values())}
    assert manifest.counts() == {status: expected[status] for status in demo.STATUSES}
    assert {(r.unit_code, r.week_ending) for r in manifest.reports} == {
        (u, w) for u in {r.unit_code for r in manifest.reports} for w in campaign.weeks
    }
    shapes = {
        "on_time": ["accepted"],
        "late": ["accepted"],
        "missing": [],
        "revised": ["accepted", "accepted"],
        "rejected_then_corrected": ["rejected", "accepted"],
    }
    for report in manifest.reports:
        assert [f.expect for f in report.files] == shapes[report.status], report
        times = [f.landed_at for f in report.files]
        assert times == sorted(times)
        assert len({f.path for f in report.files}) == len(report.files)


def test_every_file_parses_as_the_manifest_says(inbox):
    root, manifest = inbox
    assert sorted(manifest.written) == sorted(f.path for f in manifest.files())
    rules = Counter()
    for file in manifest.files():
        result = parse((root / file.path).read_bytes(), file.name)
        if file.expect == "accepted":
            assert result.problems == [], (file.path, [p.message for p in result.problems])
            assert result.record == file.record, file.path
        else:
            assert result.record is None
            assert file.rule in {p.rule for p in rejects(result.problems)}, (file.path, result.problems)
            rules[file.rule] += 1
    assert set(rules) == {rule for _, rule in demo.BAD_FILES}


def test_landing_times_are_the_files_mtimes_and_match_the_status(inbox):
    root, manifest = inbox
    for file in manifest.files():
        assert os.stat(root / file.path).st_mtime == file.landed_at.timestamp()
        assert file.landed_at.utcoffset() == timedelta(hours=8)
    for report in manifest.reports:
        if report.status == "missing":
            assert report.on_time is None
            assert report.record is None
        elif report.status == "late":
            assert report.on_time is False
        elif report.status in ("on_time", "revised"):
            assert report.on_time is True
    deadlines = {r.deadline for r in manifest.reports}
    landed = [f.landed_at for f in manifest.files()]
    assert any(t in deadlines for t in landed)  # exactly 17:00:00, which is on time
    assert any(t - timedelta(seconds=1) in deadlines for t in landed)  # one second late
    late_by = [r.first_accepted_at - r.deadline for r in manifest.reports if r.status == "late"]
    assert max(late_by) < timedelta(days=4)


def test_weekly_and_cumulative_figures_are_consistent(inbox, campaign):
    _, manifest = inbox
    by_unit = defaultdict(dict)
    for report in manifest.reports:
        if report.record:
            by_unit[report.unit_code][report.week_ending] = report.record
    for unit, records in by_unit.items():
        for i, week in enumerate(campaign.weeks):
            record = records.get(week)
            if record is None:
                continue
            for key in F.COUNT_KEYS:
                total = record[F.cumulative_key(key)]
                assert total >= record[key] >= 0
                previous = records.get(week - timedelta(days=7))
                if previous is not None:
                    assert total == previous[F.cumulative_key(key)] + record[key], (unit, week, key)
                elif i == 0:
                    assert total == record[key]
            assert record["employers"] <= record["positions"]


def test_magnitudes_make_sense_nationally_and_by_province(inbox):
    _, manifest = inbox
    records = [r.record for r in manifest.reports if r.record]
    national = {key: sum(r[key] for r in records) for key in F.COUNT_KEYS}  # a few weeks are missing
    for key, expected in demo.NATIONAL_TOTALS.items():
        assert 0.7 * expected < national[key] < 1.3 * expected, key
    assert 25_000 < national["job_fairs_offline"] < 60_000
    assert 8_000_000 < national["positions"] < 16_000_000
    assert 10 < national["positions"] / national["employers"] < 50
    positions = defaultdict(int)
    for record in records:
        positions[record["unit_code"]] = max(positions[record["unit_code"]], record["positions_cumulative"])
    median = statistics.median(positions.values())
    for large in ("440000", "320000", "370000", "410000"):
        assert positions[large] > 1.5 * median
    for small in ("540000", "630000", "640000", "460000", "660000"):
        assert positions[small] < 0.3 * median
    assert positions["440000"] > 20 * positions["540000"]


def test_all_formats_encodings_and_languages_appear(inbox):
    _, manifest = inbox
    accepted = [f for f in manifest.files() if f.expect == "accepted"]
    assert {f.format for f in accepted} == {"xlsx", "csv", "json"}
    assert Counter(f.format for f in accepted).most_common(1)[0][0] == "xlsx"
    csvs = [f.spec for f in accepted if f.format == "csv"]
    assert {s["encoding"] for s in csvs} == {"utf-8", "utf-8-sig", "gb18030"}
    assert {s["language"] for s in csvs} == {"zh", "en"}
    jsons = [f.spec for f in accepted if f.format == "json"]
    assert {s["language"] for s in jsons} == {"zh", "en"}
    assert {s["wrap"] for s in jsons} == {True, False}
    typed = [
        v for f in accepted if f.format != "xlsx" for v in f.spec["values"].values() if isinstance(v, str)
    ]
    assert any("," in v for v in typed)  # 1,234
    assert any("０" <= c <= "９" for v in typed for c in v)  # full-width digits
    assert any(v.endswith(".0") for v in typed)
    assert any("年" in v for v in typed)
    assert any(f.spec.get("date_cell") for f in accepted)


def test_the_inbox_can_be_fed_as_time_goes_by(tmp_path, campaign):
    first_deadline = campaign.deadline(campaign.weeks[0])
    early = generate_inbox(tmp_path, until=first_deadline)
    written = {f.path: f for f in early.files() if f.path in early.written}
    assert written
    assert len(written) == len(early.written)
    assert all(f.landed_at <= first_deadline for f in written.values())
    assert {f.week_ending for f in written.values()} == {campaign.weeks[0]}
    on_disk = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert on_disk == set(written)

    second = generate_week(tmp_path, campaign.weeks[1])
    assert {r.week_ending for r in second.reports} == {campaign.weeks[1]}
    assert all(path.split("/")[0].isdigit() for path in second.written)
    assert len(second.written) == sum(len(r.files) for r in second.reports)


def test_command_line(tmp_path, capsys):
    manifest_path = tmp_path / "manifest.json"
    assert demo.main([str(tmp_path / "inbox"), "--weeks", "1", "--manifest", str(manifest_path)]) == 0
    out = capsys.readouterr().out
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert len(data["reports"]) == 32
    assert f"{len(data['written'])} files written" in out
    assert sum(data["counts"].values()) == 32
