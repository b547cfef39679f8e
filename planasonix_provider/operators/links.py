"""The "Planasonix job" link on a task, read from the URL the operator pushed to XCom."""

from __future__ import annotations

from typing import Any

from airflow.sdk.execution_time.xcom import XCom

from planasonix_provider.airflow_lines import BaseOperatorLink

URL_XCOM_KEY = "planasonix_url"


class PlanasonixJobLink(BaseOperatorLink):
    """Opens the Planasonix job (or backfill) that the task started."""

    name = "Planasonix job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = XCom.get_value(ti_key=ti_key, key=URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
