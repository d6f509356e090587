"""The sign-off request of friday_consolidation: Airflow's human-in-the-loop operator, configured at run time.

:class:`SignOffOperator` is the standard provider's ``HITLOperator`` with the options *Approve* and
*Reject* and a free-text *comment*. Who may answer (``sign_off.reviewers``), how long the request waits
(``sign_off.timeout``) and the answer taken when nobody replies in time (*Approve* for the policy
``send_with_note``, *Reject* for ``hold``; answered by nobody, so ``summary/signoff.py`` can tell it
from a reviewer's) are read from ``campaign.yaml`` when the task runs, never when the DAG is parsed.
Subject and body are templated from the request the previous task built.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param

APPROVE = "Approve"
REJECT = "Reject"


class SignOffOperator(HITLOperator):
    """Ask the campaign's reviewers to sign off the summary emails waiting; returns their answer."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("params", {"comment": Param("", type="string", title="意见（退回时请填写）")})
        # Replaced by sign_off.timeout when the task runs; set here so that execution_timeout keeps
        # limiting the task's own work instead of being taken for the wait.
        kwargs.setdefault("response_timeout", timedelta(hours=4))
        super().__init__(options=[APPROVE, REJECT], multiple=False, **kwargs)

    def execute(self, context):
        from recruitment_month import config

        sign_off = config.campaign().sign_off
        self.assigned_users = [{"id": r.id, "name": r.name} for r in sign_off.reviewers] or None
        self.response_timeout = sign_off.timeout
        self.defaults = [APPROVE if sign_off.on_timeout == "send_with_note" else REJECT]
        return super().execute(context)
