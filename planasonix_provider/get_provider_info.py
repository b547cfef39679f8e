"""What Airflow's provider manager reads: the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from planasonix_provider import __version__
from planasonix_provider.hooks.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

INTEGRATION = "Planasonix"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-planasonix",
        "name": "Planasonix",
        "description": "Trigger and wait for Planasonix syncs and backfills (Orchestration API).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.planasonix.com",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["planasonix_provider.hooks.planasonix"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["planasonix_provider.operators.planasonix"],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["planasonix_provider.sensors.planasonix"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "planasonix_provider.triggers.planasonix",
                    "planasonix_provider.triggers.job_events",
                ],
            }
        ],
        "extra-links": ["planasonix_provider.operators.links.PlanasonixJobLink"],
        "connection-types": [
            {
                "connection-type": "planasonix",
                "hook-class-name": "planasonix_provider.hooks.planasonix.PlanasonixHook",
                "hook-name": "Planasonix",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
