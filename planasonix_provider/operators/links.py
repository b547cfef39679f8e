"""The "Planasonix job" link on a task, read from the URL the operator pushed to XCom."""

from __future__ import annotations

from typing import Any

from planasonix_provider.airflow_lines import BaseOperatorLink

URL_XCOM_KEY = "planasonix_url"


class PlanasonixJobLink(BaseOperatorLink):
    """Opens the Planasonix job (or backfill) that the task started."""

    name = "Planasonix job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        # Only the api-server asks for links; on Airflow 3.0 this import pulls in the Task SDK's
        # comms and FastAPI, which a DAG file that imports the operators must not pay for.
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(ti_key=ti_key, key=URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
