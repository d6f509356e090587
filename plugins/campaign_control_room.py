"""The campaign control room as a page of the Airflow UI (docs/control-room.md).

Airflow's API server mounts the FastAPI app at ``/control-room``; the UI shows it in its navigation
("Campaign") as an external view. The app checks every request itself (a signed-in
user; changes need the right to run the campaign's DAGs).
"""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from recruitment_month.control_room.app import URL_PREFIX, app


class CampaignControlRoom(AirflowPlugin):
    name = "campaign_control_room"
    fastapi_apps: ClassVar[list[dict]] = [
        {"app": app, "url_prefix": URL_PREFIX, "name": "Campaign control room"}
    ]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Campaign",  # the label in the UI's navigation bar, which has room for a word
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "url_route": "control-room",
        }
    ]
