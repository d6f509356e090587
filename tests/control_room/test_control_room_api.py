"""The control room through Airflow's own API app (the plugin mounted as the api-server mounts it),
with real tokens of the simple auth manager, against a warehouse filled by two weeks of the pipeline."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from recruitment_month import config, notifications, reminders, schema
from recruitment_month.summary import compute

CAMPAIGN = config.campaign()
WEEK1, WEEK2 = CAMPAIGN.weeks[0], CAMPAIGN.weeks[1]
ROOT = "/control-room"
CELL = re.compile(r'data-unit="(\d{6})" data-week="([\d-]+)" data-status="(\w+)"( data-corrected)?')


def _board(api, user="viewer") -> dict[tuple[str, str], tuple[str, bool]]:
    page = api.get(ROOT + "/", user)
    assert page.status_code == 200, page.text
    return {(u, w): (s, bool(c)) for u, w, s, c in CELL.findall(page.text)}


def _a_rejected_file(engine) -> dict:
    f, p = schema.audit_inbox_file, schema.audit_report_problem
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(f.c.file_id, f.c.unit_folder, f.c.week_ending, f.c.archive_uri, p.c.message, p.c.cell)
                .join(p, p.c.file_id == f.c.file_id)
                .where(f.c.status == "rejected", p.c.severity == "reject", f.c.week_ending == WEEK1)
                .where(f.c.archive_uri.is_not(None), p.c.cell.is_not(None))
                .order_by(f.c.file_id, p.c.seq)
            )
            .mappings()
            .first()
        )


def _audit(engine) -> list[dict]:
    with engine.connect() as conn:
        query = select(schema.audit_control_action).order_by(schema.audit_control_action.c.action_id)
        return [dict(r) for r in conn.execute(query).mappings()]


def _reads(campaign_run) -> list[str]:
    file_id = _a_rejected_file(campaign_run.engine)["file_id"]
    return [
        ROOT + "/",
        f"{ROOT}/units/110000/weeks/{WEEK1}",
        f"{ROOT}/outbox",
        f"{ROOT}/files/{file_id}",
        f"{ROOT}/summaries",
        f"{ROOT}/summaries/{WEEK1}/v1/email",
        f"{ROOT}/summaries/{WEEK1}/v1/workbook",
        f"{ROOT}/feeds",
        f"{ROOT}/feeds/zhilian/quarantine",
    ]


CHANGES = [
    ("/api/exemptions", {"unit_code": "110000", "week_ending": str(WEEK2), "reason": "test"}),
    ("/api/exemptions/lift", {"unit_code": "110000", "week_ending": str(WEEK2), "reason": "test"}),
    ("/api/outbox/resend", {"message_key": "nothing"}),
]


def test_anonymous_requests_are_refused_everywhere(api, campaign_run):
    for path in _reads(campaign_run):
        assert api.get(path).status_code == 401, path
    for path, body in CHANGES:
        assert api.post(ROOT + path, body).status_code == 401, path
    forged = api.client.get(ROOT + "/", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 403
    assert _audit(campaign_run.engine) == []


def test_a_viewer_reads_every_page_but_changes_nothing(api, campaign_run):
    for path in _reads(campaign_run):
        assert api.get(path, "viewer").status_code == 200, path
    for path, body in CHANGES:
        answer = api.post(ROOT + path, body, "viewer")
        assert answer.status_code == 403, path
    assert "只读" in api.get(ROOT + "/", "viewer").text
    assert 'id="exempt"' not in api.get(f"{ROOT}/units/110000/weeks/{WEEK2}", "viewer").text
    assert _audit(campaign_run.engine) == []


def test_the_ui_session_cookie_signs_in_and_changes_need_json(api, campaign_run):
    cookies = {"_token": api.tokens["operator"]}
    api.client.cookies.update(cookies)
    try:
        assert api.client.get(ROOT + "/").status_code == 200
        # A form posted from another site cannot change anything: changes are JSON only.
        form = api.client.post(
            ROOT + "/api/exemptions", data={"unit_code": "110000", "week_ending": str(WEEK2)}
        )
        assert form.status_code == 422
    finally:
        api.client.cookies.clear()
    assert _audit(campaign_run.engine) == []


def test_the_board_shows_each_units_status_as_the_summary_has_it(api, campaign_run):
    board = _board(api)
    assert len(board) == 32 * len(CAMPAIGN.weeks)
    ms, mu, r = schema.mart_weekly_summary, schema.mart_summary_unit, schema.core_report
    with campaign_run.engine.connect() as conn:
        for week in (WEEK1, WEEK2):
            latest = conn.execute(select(func.max(ms.c.version)).where(ms.c.week_ending == week)).scalar_one()
            summary = dict(
                conn.execute(
                    select(mu.c.unit_code, mu.c.status).where(
                        mu.c.week_ending == week, mu.c.version == latest
                    )
                ).all()
            )
            shown = {u: board[(u, str(week))][0] for u in summary}
            assert shown == summary, week
        corrected = set(
            conn.execute(
                select(r.c.unit_code, r.c.week_ending)
                .group_by(r.c.unit_code, r.c.week_ending)
                .having(func.count() > 1)
            ).all()
        )
    assert corrected, "the demo has corrections"
    assert {(u, w) for (u, w), (_, c) in board.items() if c} == {(u, str(w)) for u, w in corrected}
    assert {s for s, _ in board.values()} >= {"on_time", "late", "missing"}
    # The current week first: the campaign is over, so its last week leads.
    page = api.get(ROOT + "/", "viewer").text
    assert page.index(f'data-week="{CAMPAIGN.weeks[-1]}"') < page.index(f'data-week="{WEEK1}"')
    on_time = sum(1 for (u, w), (s, _) in board.items() if w == str(WEEK1) and s == "on_time")
    reported = sum(1 for (u, w), (s, _) in board.items() if w == str(WEEK1) and s in ("on_time", "late"))
    assert f'data-rates="{WEEK1}">{reported / 32:.0%} / {on_time / 32:.0%}<' in page


def test_a_units_week_shows_its_rejected_file_and_the_original(api, campaign_run):
    rejected = _a_rejected_file(campaign_run.engine)
    unit = rejected["unit_folder"]
    page = api.get(f"{ROOT}/units/{unit}/weeks/{WEEK1}", "viewer")
    assert page.status_code == 200
    assert html.escape(rejected["message"]) in page.text
    assert f"<td>{html.escape(rejected['cell'])}</td>" in page.text
    assert f'href="../../../files/{rejected["file_id"]}"' in page.text
    original = api.get(f"{ROOT}/files/{rejected['file_id']}", "viewer")
    assert original.status_code == 200
    with open(rejected["archive_uri"].removeprefix("file://"), "rb") as handle:
        assert original.content == handle.read()
    assert original.headers["content-disposition"].startswith("attachment;")
    # The notices sent to the unit about its files are listed with their subjects.
    with campaign_run.engine.connect() as conn:
        subjects = conn.execute(
            select(schema.audit_notification.c.subject).where(
                schema.audit_notification.c.subject_ref == rejected["file_id"]
            )
        ).scalars()
        for subject in subjects:
            assert html.escape(subject) in page.text
    assert api.get(f"{ROOT}/units/999999/weeks/{WEEK1}", "viewer").status_code == 404
    assert api.get(f"{ROOT}/units/{unit}/weeks/2022-11-12", "viewer").status_code == 404


def test_corrections_show_before_and_after(api, campaign_run):
    r = schema.core_report
    with campaign_run.engine.connect() as conn:
        unit, week = conn.execute(
            select(r.c.unit_code, r.c.week_ending).where(r.c.revision == 2).order_by(r.c.unit_code)
        ).first()
    page = api.get(f"{ROOT}/units/{unit}/weeks/{week}", "viewer").text
    assert "第2版" in page
    assert "已更正" in page


def test_an_exemption_changes_the_board_reminders_and_summary_and_is_audited(api, campaign_run):
    engine = campaign_run.engine
    board = _board(api)
    unit = next(u for (u, w), (s, _) in sorted(board.items()) if w == str(WEEK2) and s == "missing")
    body = {"unit_code": unit, "week_ending": str(WEEK2), "reason": "因疫情封控，经司里同意本周免报"}
    later = datetime.now(UTC)
    with engine.connect() as conn:
        assert unit in reminders.outstanding(conn, CAMPAIGN, WEEK2, later)
    try:
        first = api.post(ROOT + "/api/exemptions", body, "operator")
        again = api.post(ROOT + "/api/exemptions", body, "operator")
        assert first.json() == {"exempt": True, "changed": True, "by": "operator"}
        assert again.json()["changed"] is False
        assert _board(api)[(unit, str(WEEK2))][0] == "exempt"
        with engine.connect() as conn:
            assert unit not in reminders.outstanding(conn, CAMPAIGN, WEEK2, later)
            status = {u.code: u.status for u in compute.compute(conn, WEEK2, later).units}
        assert status[unit] == "exempt"
        page = api.get(f"{ROOT}/units/{unit}/weeks/{WEEK2}", "viewer").text
        assert "因疫情封控" in page
        assert "免报" in page
        (audit,) = _audit(engine)
        assert (audit["action"], audit["subject"], audit["actor"], audit["reason"]) == (
            "exempt",
            f"{WEEK2}/{unit}",
            "operator",
            body["reason"],
        )
    finally:
        lifted = api.post(ROOT + "/api/exemptions/lift", {**body, "reason": "误设"}, "operator")
    assert lifted.json()["changed"] is True
    assert _board(api)[(unit, str(WEEK2))][0] == "missing"
    assert [a["action"] for a in _audit(engine)] == ["exempt", "lift_exemption"]
    no_reason = api.post(ROOT + "/api/exemptions", {**body, "reason": " "}, "operator")
    assert no_reason.status_code == 409
    unknown = api.post(ROOT + "/api/exemptions", {**body, "unit_code": "999999"}, "operator")
    assert unknown.status_code == 409
    with engine.begin() as conn:
        conn.execute(schema.audit_control_action.delete())


def test_resending_a_failed_message_sends_it_once(api, campaign_run, monkeypatch, closed_port):
    engine, sink = campaign_run.engine, campaign_run.sink
    mail = notifications.Mail(
        key=f"reminder/test/{WEEK2}/resend/110000",
        kind="reminder_follow_up",
        subject_ref=f"{WEEK2}/110000",
        recipients=["beijing@example.org"],
        subject="【校园招聘月】测试重发",
        text="测试",
    )
    with engine.begin() as conn:
        notifications.enqueue(conn, [mail], owner=reminders.OWNER)
    smtp = json.dumps({**json.loads(json.dumps(sink.connection)), "port": closed_port})
    with monkeypatch.context() as outage:
        outage.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp)
        with pytest.raises(notifications.DeliveryError):
            notifications.deliver(engine, [reminders.OWNER])
    outbox = api.get(ROOT + "/outbox", "viewer").text
    assert f'data-key="{mail.key}"' in outbox
    assert 'data-resend="' not in outbox  # a viewer gets no button
    assert api.post(ROOT + "/api/outbox/resend", {"message_key": mail.key}, "viewer").status_code == 403

    before = len(sink.files())
    answer = api.post(
        ROOT + "/api/outbox/resend", {"message_key": mail.key, "reason": "邮件服务已恢复"}, "operator"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "sent"
    sent = sink.messages()[before:]
    assert [m["X-Recruitment-Message-Key"] for m in sent] == [mail.key]
    again = api.post(ROOT + "/api/outbox/resend", {"message_key": mail.key}, "operator")
    assert again.status_code == 409
    assert len(sink.files()) == before + 1
    (audit,) = _audit(engine)
    assert (audit["action"], audit["subject"], audit["actor"]) == ("resend", mail.key, "operator")
    assert audit["detail"]["status"] == "failed"
    assert "operator" in api.get(ROOT + "/outbox", "viewer").text
    with engine.begin() as conn:
        conn.execute(schema.audit_control_action.delete())


def test_summary_versions_show_the_email_as_sent_and_its_workbook(api, campaign_run):
    from email import message_from_bytes, policy

    from openpyxl import load_workbook

    ms, n = schema.mart_weekly_summary, schema.audit_notification
    with campaign_run.engine.connect() as conn:
        versions = conn.execute(select(ms.c.week_ending, ms.c.version)).all()
        body = conn.execute(
            select(n.c.body).where(n.c.message_key == f"weekly_summary/{WEEK1}/v1")
        ).scalar_one()
    page = api.get(ROOT + "/summaries", "viewer").text
    for week, version in versions:
        assert f'data-version="{week}/v{version}"' in page
    sent = message_from_bytes(body, policy=policy.default)
    email = api.get(f"{ROOT}/summaries/{WEEK1}/v1/email", "viewer")
    assert email.headers["content-security-policy"] == "script-src 'none'"
    assert "cid:" not in email.text
    assert "data:image/png;base64," in email.text
    assert "校园招聘月" in email.text
    workbook = api.get(f"{ROOT}/summaries/{WEEK1}/v1/workbook", "viewer")
    attached = next(p for p in sent.iter_attachments() if p.get_filename().endswith(".xlsx"))
    assert workbook.content == attached.get_payload(decode=True)
    assert load_workbook(io.BytesIO(workbook.content)).sheetnames
    assert api.get(f"{ROOT}/summaries/{WEEK1}/v99/email", "viewer").status_code == 404


def test_feeds_show_each_platforms_last_load_and_the_stalled_ones(api, campaign_run, monkeypatch, tmp_path):
    from recruitment_devkit.feed_simulator import FeedSimulator
    from recruitment_month.feeds import pipeline as feeds

    since, until = datetime(2022, 11, 1, tzinfo=UTC), datetime(2022, 11, 8, tzinfo=UTC)
    loaded = ["zhilian", "liepin"]
    monkeypatch.setenv("RECRUITMENT_RAW_FEEDS", str(tmp_path / "raw"))
    with FeedSimulator(postings_per_platform=3000, seed=5) as sim:
        for code in loaded:
            platform = config.platform(code)
            connection = {"conn_type": "http", "host": sim.base_url(code), "password": sim.token}
            monkeypatch.setenv(f"AIRFLOW_CONN_{platform.conn_id.upper()}", json.dumps(connection))
            feeds.load(feeds.extract(code, since, until), run_id="control-room-test")
    a = schema.audit_load
    with campaign_run.engine.connect() as conn:
        counts = dict(
            conn.execute(
                select(a.c.subject, a.c.counts).where(a.c.dag_id == "job_feeds", a.c.task_id == "load")
            ).all()
        )
    page = api.get(ROOT + "/feeds", "viewer").text
    rows = dict(re.findall(r'data-platform="(\w+)" data-stalled="(\w+)"', page))
    assert rows == {p.code: ("no" if p.code in loaded else "yes") for p in config.platforms()}
    for code in loaded:
        c = counts[code]
        row = page[page.index(f'data-platform="{code}"') :]
        shown = re.search(r"data-last-day>([\d /]+)<", row).group(1)
        assert shown == f"{c['received']} / {c['new']} / {c['updated']} / {c['quarantined']}"
    q = schema.audit_feed_quarantine
    for code in loaded:
        with campaign_run.engine.connect() as conn:
            reasons = conn.execute(
                select(q.c.rule, func.count()).where(q.c.platform_code == code).group_by(q.c.rule)
            ).all()
        shown = api.get(f"{ROOT}/feeds/{code}/quarantine", "viewer").text
        for rule, n in reasons:
            assert f'<td>{rule}</td><td class="num">{n}</td>' in shown
        assert (f'href="feeds/{code}/quarantine"' in page) == bool(reasons)
    assert api.get(ROOT + "/feeds/nowhere/quarantine", "viewer").status_code == 404
