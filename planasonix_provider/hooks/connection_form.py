"""The Airflow UI form of a ``planasonix`` connection: its standard fields and its extras.

One description serves every Airflow line: 3.2+ reads it declaratively from ``get_provider_info``;
3.0 and 3.1 build the form from the hook's ``get_ui_field_behaviour`` and
``get_connection_form_widgets``, which return it in their older shapes (see the two functions
at the end).

Airflow's provider discovery imports this (through ``get_provider_info``) in every Airflow
process, so it imports nothing but the defaults.
"""

from __future__ import annotations

from typing import Any

from planasonix_provider.api.defaults import (
    DEFAULT_HTTP_TRANSPORT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_MAX_WAIT,
    DEFAULT_TIMEOUT,
    HTTP_TRANSPORTS,
)

DEFAULT_CONN_ID = "planasonix_default"

#: How the UI shows the standard connection fields (the provider-info ``ui-field-behaviour``).
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login", "extra"],
    "relabeling": {"host": "Base URL", "password": "API key"},
    "placeholders": {
        "host": "https://api.planasonix.com",
        "password": "Your Planasonix API key",
    },
}

#: The extras of a ``planasonix`` connection, as the Airflow UI form declares them.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Timeout of one HTTP request to Planasonix.",
        "schema": {"type": ["number", "null"], "default": DEFAULT_TIMEOUT, "minimum": 0.1},
    },
    "retry_attempts": {
        "label": "Retry attempts",
        "description": "Attempts per request, the first included; 1 disables retries. "
        "POSTs that start work are never retried after an ambiguous failure.",
        "schema": {
            "type": ["integer", "null"],
            "default": DEFAULT_RETRY_ATTEMPTS,
            "minimum": 1,
            "maximum": 20,
        },
    },
    "retry_max_wait": {
        "label": "Retry wait cap (seconds)",
        "description": "Longest wait between two attempts, Retry-After included.",
        "schema": {"type": ["number", "null"], "default": DEFAULT_RETRY_MAX_WAIT, "minimum": 0},
    },
    "job_url_template": {
        "label": "Job URL template",
        "description": "Link shown on the task as 'Planasonix job', with {job_id} (or "
        "{backfill_id}) and {base_url} placeholders. Default: the web app next to the API.",
        "schema": {"type": ["string", "null"]},
    },
    "http_transport": {
        "label": "Async HTTP transport",
        "description": "HTTP library of the async client the triggerer polls with: 'auto' "
        "(or 'aiohttp') is aiohttp, the cheaper per poll; 'httpx' is for a proxy aiohttp "
        "cannot use (an https:// or SOCKS proxy).",
        "schema": {
            "type": ["string", "null"],
            "default": DEFAULT_HTTP_TRANSPORT,
            "enum": list(HTTP_TRANSPORTS),
        },
    },
    "max_connections": {
        "label": "Max connections",
        "description": "Size of the connection pool shared by every task of one process.",
        "schema": {
            "type": ["integer", "null"],
            "default": DEFAULT_MAX_CONNECTIONS,
            "minimum": 1,
            "maximum": 1000,
        },
    },
    "asset_uri_template": {
        "label": "Asset URI template",
        "description": "How the operators name the Airflow asset of each loaded table, with "
        "{connection_id}, {table}, {schema}, {name} and {table_path} placeholders, e.g. "
        "postgres://warehouse:5432/analytics/{table_path}. "
        "Default: planasonix://{connection_id}/{table}.",
        "schema": {"type": ["string", "null"]},
    },
    "lineage_source_namespace": {
        "label": "OpenLineage source namespace",
        "description": "Namespace of the system Planasonix reads from (e.g. "
        "mysql://shop-db:3306); when set, lineage shows each table read there as an input.",
        "schema": {"type": ["string", "null"]},
    },
    "lineage_destination_namespace": {
        "label": "OpenLineage destination namespace",
        "description": "Namespace of the warehouse Planasonix loads into (e.g. "
        "postgres://warehouse:5432). Default: planasonix://{connection_id}.",
        "schema": {"type": ["string", "null"]},
    },
}


def hook_field_behaviour() -> dict[str, Any]:
    """:data:`UI_FIELD_BEHAVIOUR` as ``get_ui_field_behaviour`` returns it (Airflow 3.0, 3.1)."""
    return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}


def hook_form_widgets() -> dict[str, Any]:
    """:data:`CONN_FIELDS` as the wtforms fields Airflow 3.0 and 3.1 build the form from.

    Those lines read only wtforms' four field classes (the api-server swaps in its own stand-ins
    while it asks), so a number is a text field there: the connection parser reads either.
    """
    from wtforms import IntegerField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, spec in CONN_FIELDS.items():
        schema = spec["schema"]
        field_class = IntegerField if "integer" in schema["type"] else StringField
        validators: list[Any] = [Optional()]
        if "enum" in schema:
            validators.append(any_of(schema["enum"]))
        widgets[name] = field_class(
            spec["label"],
            validators=validators,
            description=spec["description"],
            default=schema.get("default"),
        )
    return widgets
