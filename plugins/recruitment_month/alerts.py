"""Failure alerts to the data engineers (DESIGN §8): every DAG's ``on_failure_callback``.

One email per failed task try, keyed in the notification ledger so a callback that runs twice sends
once. If the warehouse itself is what failed, the alert still goes out, without the ledger.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _alert(context) -> object:
    from recruitment_month import config
    from recruitment_month.notifications import Mail

    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or context["dag"].dag_id
    task_id = getattr(ti, "task_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    try_number = getattr(ti, "try_number", 1)
    map_index = getattr(ti, "map_index", -1)
    exception = context.get("exception")
    log_url = getattr(ti, "log_url", "") or ""
    label = task_id if map_index in (None, -1) else f"{task_id}[{map_index}]"
    text = "\n".join(
        [
            f"DAG {dag_id}, task {label} failed (try {try_number}).",
            f"Run: {run_id}",
            f"Error: {exception!r}",
            f"Log: {log_url}",
            "",
            "What to check is in the DAG's docs in the Airflow UI (the DAG page, 'Docs').",
        ]
    )
    return Mail(
        key=f"alert/{dag_id}/{run_id}/{label}/{try_number}",
        kind="pipeline_alert",
        subject_ref=f"{dag_id}/{label}",
        recipients=list(config.campaign().recipients.data_engineers),
        subject=f"[校园招聘月数据平台] 任务失败 Task failed: {dag_id}.{label}",
        text=text,
    )


def on_failure(context) -> None:
    """Email the data engineers about a failed task."""
    from recruitment_month import config, notifications, warehouse

    mail = _alert(context)
    try:
        notifications.send_all(warehouse.engine(), [mail])
    except Exception:  # the warehouse may be what failed; the alert must still go out
        log.exception("Ledger unavailable; sending the alert %s without it", mail.key)
        with notifications.SmtpClient() as client:
            client.send(notifications.build(mail, client.from_email or config.campaign().sender))
