"""What the project writes cannot be turned against its reader; untrusted report files parse safely.

Each test feeds a hostile or broken file through the real path (inbox → parser → warehouse → summary,
receipt or Data Docs) and looks at what comes out the other end: the XML of the written workbook,
LibreOffice's reading of it, the rows stored, the size of the emails, the HTML of the Data Docs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from weekly_report import WEEK1, at, record

from recruitment_month import config, schema, warehouse
from recruitment_month.reports import pipeline as reports
from recruitment_month.reports.fields import RECORD_KEYS, flat_columns
from recruitment_month.summary import pipeline as summaries

CAMPAIGN = config.campaign()
TZ = CAMPAIGN.tz
IN_CI = os.environ.get("CI", "").lower() == "true"

HYPERLINK = '=HYPERLINK("http://evil.example/x","核实")'
DDE = "=cmd|' /C calc'!A0"


def as_csv(rec: dict, extra: dict | None = None) -> bytes:
    extra = extra or {}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*flat_columns(), *extra])
    writer.writerow([*(rec.get(k, "") for k in RECORD_KEYS), *extra.values()])
    return out.getvalue().encode("utf-8")


@pytest.fixture
def env(warehouse_url, mail_sink, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("RECRUITMENT_INBOX", str(inbox))
    monkeypatch.setenv("RECRUITMENT_ARCHIVE", str(tmp_path / "archive"))
    engine = warehouse.engine(warehouse_url)

    class Env:
        runs = 0

        def put(self, unit: str, name: str, content: bytes, landed: datetime) -> None:
            path = inbox / unit / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            os.utime(path, (landed.timestamp(), landed.timestamp()))

        def process(self) -> dict:
            """What one run of the reports DAG does, task by task."""
            self.runs += 1
            run_id = f"faults_{self.runs}"
            collected = reports.collect(engine, run_id=run_id)
            summary = reports.run_process(
                engine, run_id=run_id, collected={"seen": collected.seen, "new": collected.new}
            )
            summary["sent"] = reports.notify(engine)
            return summary

        def consolidate(self, moment: datetime) -> list[dict]:
            self.process()
            versions = summaries.consolidate(engine, moment)
            summaries.deliver(engine)
            return versions

        def mails(self, kind: str | None = None):
            found = mail_sink.messages()
            return [m for m in found if kind is None or m["X-Recruitment-Message-Key"].startswith(kind)]

        def mail_files(self) -> list[Path]:
            return mail_sink.files()

        def rows(self, table, *where) -> list[dict]:
            from sqlalchemy import select

            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]

        def problems(self, name: str) -> list[dict]:
            from sqlalchemy import select

            f, p = schema.audit_inbox_file, schema.audit_report_problem
            with engine.connect() as conn:
                query = select(p).join(f, f.c.file_id == p.c.file_id).where(f.c.file_name == name)
                return [dict(r) for r in conn.execute(query.order_by(p.c.seq)).mappings()]

    e = Env()
    e.engine = engine
    return e


# ------------------------------------------------------------------------------ formula injection


def _attachment(env) -> bytes:
    (mail,) = env.mails("weekly_summary")
    (part,) = [p for p in mail.iter_attachments() if p.get_filename().endswith(".xlsx")]
    return part.get_content()


def _sheet_xml(content: bytes, title: str) -> str:
    """The XML of the worksheet called ``title``, with the shared strings inlined for searching."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        book = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        (rid,) = re.findall(rf'<sheet[^>]*name="{re.escape(title)}"[^>]*r:id="([^"]+)"', book)
        (target,) = re.findall(rf'<Relationship[^>]*Id="{rid}"[^>]*Target="([^"]+)"', rels) or re.findall(
            rf'<Relationship[^>]*Target="([^"]+)"[^>]*Id="{rid}"', rels
        )
        return z.read("xl/" + target.lstrip("/").removeprefix("xl/")).decode()


def _cells(xml: str) -> list[tuple[str, str | None, bool, str]]:
    """Each cell of a worksheet's XML: (reference, type attribute, holds a formula, its text)."""
    from defusedxml import ElementTree

    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    found = []
    for c in ElementTree.fromstring(xml).iter(f"{ns}c"):
        text = "".join(t.text or "" for t in c.iter(f"{ns}t"))
        found.append((c.get("r"), c.get("t"), c.find(f"{ns}f") is not None, text))
    return found


def test_a_header_or_key_that_is_a_formula_is_text_in_the_summary_workbook(env):
    env.put("110000", "r.csv", as_csv(record("110000"), {HYPERLINK: ""}), at(WEEK1, 9))
    env.put("120000", "r.json", json.dumps(record("120000") | {DDE: 1}).encode(), at(WEEK1, 9))
    env.consolidate(at(WEEK1, 17))
    content = _attachment(env)

    with zipfile.ZipFile(io.BytesIO(content)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = z.read(name).decode()
                assert "<f>" not in xml, f"{name} holds a formula"
                assert "<f " not in xml, f"{name} holds a formula"
    cells = _cells(_sheet_xml(content, "质量提示"))
    hostile = [(ref, t, text) for ref, t, _, text in cells if text.startswith("=")]
    assert {text for _, _, text in hostile} >= {DDE}, "the JSON key reaches the quality sheet"
    assert any(text.startswith("=HYPERLINK(") for _, _, text in hostile), "so does the CSV header"
    assert all(t == "inlineStr" for _, t, _ in hostile), hostile


def test_libreoffice_reads_the_injected_header_as_text(env, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        if IN_CI:
            pytest.fail("LibreOffice (Debian package libreoffice-calc) is missing (CI=true: must not skip)")
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc)")
    env.put("110000", "r.csv", as_csv(record("110000"), {HYPERLINK: ""}), at(WEEK1, 9))
    env.put("120000", "r.json", json.dumps(record("120000") | {DDE: 1}).encode(), at(WEEK1, 9))
    env.consolidate(at(WEEK1, 17))
    book = tmp_path / "summary.xlsx"
    book.write_bytes(_attachment(env))
    profile = tmp_path / "lo-profile"
    # The quality sheet only: LibreOffice's CSV filter takes a sheet number (1-based) as its 12th token.
    import openpyxl

    titles = openpyxl.load_workbook(book, read_only=True).sheetnames
    number = titles.index("质量提示") + 1
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            f"csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,{number}",
            "--outdir",
            str(tmp_path / "out"),
            str(book),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (out,) = (tmp_path / "out").glob("*.csv")
    cells = {c for row in csv.reader(io.StringIO(out.read_text(encoding="utf-8"))) for c in row}
    assert DDE in cells, "LibreOffice shows the key as the text it is"
    assert any(c.startswith("=HYPERLINK(") for c in cells)
    assert "核实" not in cells, "a live HYPERLINK would show only its label"


# ------------------------------------------------------------------------------ Data Docs

IMG = "<img src=x onerror=alert(document.cookie)>"


def test_data_docs_show_a_hostile_failing_value_as_text(tmp_path, monkeypatch):
    import html

    import pandas as pd

    from recruitment_month import quality

    monkeypatch.setenv("RECRUITMENT_DATA_DOCS", str(tmp_path / "datadocs"))
    posting = {
        "posting_id": "p1",
        "platform_code": "zhilian",
        "title": IMG + "招聘" * 100,  # longer than 200 characters: fails, and is listed
        "employer_name": "某公司",
        "employer_credit_code": IMG,  # fails the credit-code pattern
        "modified_at": "2022-11-10T09:00:00+08:00",
        "salary_min": 5000,
        "salary_max": 8000,
        "openings": 3,
        "province_code": "110000",
        "industry_category": "I",
        "education_level": "bachelor",
        "employment_type": "full_time",
    }
    parameters = {"unit_codes": ["110000"], "industries": ["I"]}
    outcome = quality.validate(pd.DataFrame([posting]), "job_posting", parameters)
    assert {f.value for f in outcome.failures} >= {IMG}, "the value fails and is reported as it is"
    page = quality.publish(outcome, run_key="feeds__zhilian__2022-11-11", target="zhilian")
    text = page.read_text(encoding="utf-8")
    assert IMG not in text
    assert "onerror=alert" not in text.replace(html.escape(IMG), "")
    assert html.escape(IMG) in text, "the value is shown, as text"
    assert "&amp;lt;" not in text, "nothing is escaped twice"


# ------------------------------------------------------------------------------ warnings capped


def _mail_sizes(env) -> dict[str, int]:
    """Message key prefix (receipt, weekly_summary, ...) → bytes of the largest such email."""
    from email import message_from_bytes, policy

    sizes: dict[str, int] = {}
    for path in env.mail_files():
        raw = path.read_bytes()
        key = message_from_bytes(raw, policy=policy.default)["X-Recruitment-Message-Key"].split("/")[0]
        sizes[key] = max(sizes.get(key, 0), len(raw))
    return sizes


def test_twenty_thousand_unknown_columns_give_a_small_receipt_and_summary(env):
    extra = {f"extra_{i}": "" for i in range(20_000)}
    env.put("110000", "wide.csv", as_csv(record("110000"), extra), at(WEEK1, 9))
    env.put("120000", "plain.json", json.dumps(record("120000")).encode(), at(WEEK1, 9))
    env.consolidate(at(WEEK1, 17))

    problems = env.problems("wide.csv")
    unknown = [p for p in problems if p["rule"] == "field_unknown"]
    assert len(unknown) == 21, "the first 20, then one that counts the rest"
    assert "另有 19,980 处同类问题" in unknown[-1]["message"]
    assert len(problems) <= 25
    (wide,) = env.rows(schema.audit_inbox_file, schema.audit_inbox_file.c.file_name == "wide.csv")
    assert wide["status"] != "rejected"
    sizes = _mail_sizes(env)
    assert sizes["receipt"] < 40_000, sizes
    assert sizes["weekly_summary"] < 1_500_000, sizes
    (mail,) = env.mails("weekly_summary")
    html = mail.get_body(("html",)).get_content()
    assert html.count("extra_") <= 20


# ------------------------------------------------------------------------------ control characters


def test_a_report_with_control_characters_is_accepted_clean_and_the_others_are_untouched(env, tmp_path):
    from recruitment_month.reports.template import fill_template

    dirty = record(
        "110000", contact_name="王\x00老师", highlights="开展\x00招聘会\x1b[0m。\n第二段", problems="无\x7f"
    )
    env.put("110000", "dirty.json", json.dumps(dirty, ensure_ascii=False).encode(), at(WEEK1, 9))
    env.put("120000", "plain.csv", as_csv(record("120000")), at(WEEK1, 9))
    form = dict(record("130000"), week_ending=WEEK1)
    env.put("130000", "form.xlsx", fill_template(tmp_path / "form.xlsx", form).read_bytes(), at(WEEK1, 9))
    first = env.process()

    files = {r["file_name"]: r for r in env.rows(schema.audit_inbox_file)}
    assert {name: r["status"] for name, r in files.items()} == {
        "dirty.json": "accepted",
        "plain.csv": "accepted",
        "form.xlsx": "accepted",
    }
    (stored,) = env.rows(schema.core_report, schema.core_report.c.unit_code == "110000")
    assert stored["contact_name"] == "王老师"
    assert stored["highlights"] == "开展招聘会[0m。\n第二段"
    assert stored["problems"] == "无"
    flagged = [p for p in env.problems("dirty.json") if p["rule"] == "control_characters"]
    assert {p["field"] for p in flagged} == {"contact_name", "highlights", "problems"}
    assert all(p["severity"] == "warn" and "控制字符" in p["message"] for p in flagged)
    for name in ("plain.csv", "form.xlsx"):
        assert not [p for p in env.problems(name) if p["rule"] == "control_characters"], name
    assert len(env.mails("receipt")) == 3
    assert not [p for p in env.mail_files() if b"\x00" in p.read_bytes()]

    # A rerun changes nothing.
    before = (env.rows(schema.core_report), env.rows(schema.audit_report_problem))
    env.process()
    assert (env.rows(schema.core_report), env.rows(schema.audit_report_problem)) == before
    assert first["file_ids"]
