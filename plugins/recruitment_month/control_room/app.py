"""The control room's FastAPI app, mounted by Airflow's API server at ``/control-room``.

Airflow does not protect a plugin's endpoints on its own: every route here depends on :func:`reader`
(a signed-in Airflow user allowed to see the control room, by the session cookie of the UI or a bearer
token) and every change on :func:`editor` as well (a user allowed to run the campaign's DAGs). Pages
are rendered on the server with Jinja2 (autoescaped); changes are JSON POSTs from the page's script,
which a form on another site cannot send. All links are relative, so the app works under any prefix.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

URL_PREFIX = "/control-room"
RESOURCE = "Campaign control room"
# Changing something in the control room takes the right to run the campaign's consolidation DAG.
EDIT_DAG = "friday_consolidation"


def _auth_manager():
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def reader(user: Annotated[BaseUser, Depends(get_user)]) -> BaseUser:
    if not _auth_manager().is_authorized_custom_view(method="GET", resource_name=RESOURCE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed to see the control room")
    return user


def may_edit(user: BaseUser) -> bool:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return _auth_manager().is_authorized_dag(
        method="PUT", access_entity=DagAccessEntity.RUN, details=DagDetails(id=EDIT_DAG), user=user
    )


def editor(user: Annotated[BaseUser, Depends(reader)]) -> BaseUser:
    if not may_edit(user):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"changing the campaign needs the right to run {EDIT_DAG}"
        )
    return user


Reader = Annotated[BaseUser, Depends(reader)]
Editor = Annotated[BaseUser, Depends(editor)]


def _templates():
    from recruitment_month.settings import settings

    return _environment(settings().control_room_templates)


@cache
def _environment(folder: Path):
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from recruitment_month import config
    from recruitment_month.control_room import status as st

    env = Environment(
        loader=FileSystemLoader(folder), autoescape=select_autoescape(default=True), auto_reload=False
    )
    env.globals.update(WORDS=st.WORDS, COLOURS=st.COLOURS, BACKGROUNDS=st.BACKGROUNDS, CORRECTED=st.CORRECTED)
    tz = config.campaign().tz
    env.filters["pct"] = lambda v: f"{v:.0%}"
    env.filters["local"] = lambda m: m.astimezone(tz).strftime("%Y-%m-%d %H:%M") if m else "—"
    return env


def _render(name: str, user: BaseUser, **context) -> HTMLResponse:
    from recruitment_month import config

    html = (
        _templates()
        .get_template(name)
        .render(campaign=config.campaign(), user=user.get_name(), can_edit=may_edit(user), **context)
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _engine():
    from recruitment_month import warehouse

    return warehouse.engine()


def _unit(code: str):
    from recruitment_month import config

    unit = config.units().by_code().get(code)
    if unit is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no unit {code}")
    return unit


app = FastAPI(title="Campaign control room", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/", response_class=HTMLResponse)
def board_page(user: Reader) -> HTMLResponse:
    from recruitment_month import config
    from recruitment_month.control_room import queries

    now = datetime.now(UTC)
    with _engine().connect() as conn:
        board = queries.board(conn, config.campaign(), config.units().units, now)
    return _render("board.html.j2", user, board=board, now=now)


@app.get("/units/{code}/weeks/{week}", response_class=HTMLResponse)
def unit_week_page(code: str, week: date, user: Reader) -> HTMLResponse:
    from recruitment_month import config
    from recruitment_month.control_room import queries

    campaign = config.campaign()
    if not campaign.is_week(week):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{week} is not a reporting week")
    with _engine().connect() as conn:
        page = queries.unit_week(conn, campaign, _unit(code), week, datetime.now(UTC))
    return _render("unit_week.html.j2", user, page=page)


@app.get("/files/{unit_folder}/{sha256}")
def original_file(unit_folder: str, sha256: str, user: Reader) -> Response:
    """The archived original of a file, as the unit sent it (always as a download)."""
    import fsspec
    from sqlalchemy import select

    from recruitment_month.schema import audit_inbox_file as f

    with _engine().connect() as conn:
        row = conn.execute(
            select(f.c.archive_uri, f.c.file_name).where(f.c.file_id == f"{unit_folder}/{sha256}")
        ).first()
    if row is None or not row.archive_uri:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no archived original of this file")
    with fsspec.open(row.archive_uri, "rb") as handle:
        content = handle.read()
    from urllib.parse import quote

    disposition = f"attachment; filename*=UTF-8''{quote(row.file_name)}"
    return Response(
        content, media_type="application/octet-stream", headers={"Content-Disposition": disposition}
    )


@app.get("/outbox", response_class=HTMLResponse)
def outbox_page(user: Reader) -> HTMLResponse:
    from recruitment_month.control_room import queries

    with _engine().connect() as conn:
        messages = queries.outbox(conn)
        actions = queries.actions(conn)
    return _render("outbox.html.j2", user, messages=messages, actions=actions)


class UnitWeekChange(BaseModel):
    unit_code: str = Field(pattern=r"^\d{6}$")
    week_ending: date
    reason: str = Field(default="", max_length=500)


class Resend(BaseModel):
    message_key: str = Field(min_length=1, max_length=300)
    reason: str = Field(default="", max_length=500)


def _act(change):
    from recruitment_month.control_room.actions import Refused

    try:
        return change()
    except Refused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@app.post("/api/exemptions")
def exempt(body: UnitWeekChange, user: Editor) -> dict:
    from recruitment_month.control_room import actions

    who = actions.Actor(user.get_name(), body.reason)
    changed = _act(lambda: actions.exempt(_engine(), body.unit_code, body.week_ending, who))
    return {"exempt": True, "changed": changed, "by": who.name}


@app.post("/api/exemptions/lift")
def lift(body: UnitWeekChange, user: Editor) -> dict:
    from recruitment_month.control_room import actions

    who = actions.Actor(user.get_name(), body.reason or None)
    changed = _act(lambda: actions.lift_exemption(_engine(), body.unit_code, body.week_ending, who))
    return {"exempt": False, "changed": changed, "by": who.name}


@app.post("/api/outbox/resend")
def resend(body: Resend, user: Editor) -> dict:
    from recruitment_month.control_room import actions

    who = actions.Actor(user.get_name(), body.reason or None)
    return {**_act(lambda: actions.resend(_engine(), body.message_key, who)), "by": who.name}


@app.get("/summaries", response_class=HTMLResponse)
def summaries_page(user: Reader) -> HTMLResponse:
    from recruitment_month.control_room import queries

    with _engine().connect() as conn:
        versions = queries.summary_versions(conn)
    return _render("summaries.html.j2", user, versions=versions)


def _summary_mail(week: date, version: int):
    from recruitment_month.control_room import queries

    with _engine().connect() as conn:
        message = queries.summary_mail(conn, week, version)
    if message is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no email was sent for this version")
    return message


@app.get("/summaries/{week}/v{version}/email", response_class=HTMLResponse)
def summary_email(week: date, version: int, user: Reader) -> HTMLResponse:
    """The email of a summary version as sent (its HTML part, images inlined; no script runs)."""
    from recruitment_month.control_room import queries

    html = queries.mail_html(_summary_mail(week, version))
    return HTMLResponse(html, headers={"Content-Security-Policy": "script-src 'none'"})


@app.get("/summaries/{week}/v{version}/workbook")
def summary_workbook(week: date, version: int, user: Reader) -> Response:
    from urllib.parse import quote

    from recruitment_month.control_room import queries

    found = queries.mail_workbook(_summary_mail(week, version))
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the email had no workbook")
    name, content = found
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@app.get("/feeds", response_class=HTMLResponse)
def feeds_page(user: Reader) -> HTMLResponse:
    from recruitment_month import config
    from recruitment_month.control_room import queries

    now = datetime.now(UTC)
    with _engine().connect() as conn:
        health = queries.feeds(conn, config.platforms(), now)
    return _render("feeds.html.j2", user, feeds=health, now=now)


@app.get("/feeds/{code}/quarantine", response_class=HTMLResponse)
def quarantine_page(code: str, user: Reader) -> HTMLResponse:
    from recruitment_month import config
    from recruitment_month.control_room import queries

    platform = next((p for p in config.platforms() if p.code == code), None)
    if platform is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no platform {code}")
    with _engine().connect() as conn:
        reasons, items = queries.quarantine(conn, code)
    return _render("quarantine.html.j2", user, platform=platform, reasons=reasons, items=items)
