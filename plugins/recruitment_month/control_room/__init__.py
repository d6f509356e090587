"""The campaign control room: a page of the Airflow UI (docs/control-room.md).

A FastAPI app served by Airflow's API server (registered by ``plugins/campaign_control_room.py``) that
reads the warehouse: the board of the 32 units by the campaign's weeks, a unit's week, the outbox,
exemptions. Only signed-in Airflow users see it; changing something needs the right to run the
campaign's DAGs, and every change is recorded in ``audit_control_action`` with who made it.
"""
