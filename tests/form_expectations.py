"""What the api-server must serve as the ``planasonix`` connection form, on every Airflow line.

Airflow 3.2+ builds it from the declarative ``connection-types`` of ``get_provider_info``; 3.0 and
3.1 from the hook's ``get_ui_field_behaviour`` and ``get_connection_form_widgets``. Both are
checked against this one expectation, so the two descriptions cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from planasonix_provider.hooks.connection_form import CONN_FIELDS

STANDARD_FIELDS = {
    "host": {"hidden": False, "title": "Base URL", "placeholder": "https://api.planasonix.com"},
    "password": {"hidden": False, "title": "API key", "placeholder": "Your Planasonix API key"},
}
HIDDEN_FIELDS = ("port", "login", "url_schema")


def assert_planasonix_form(hook_meta: list[dict[str, Any]]) -> None:
    """``hook_meta``: the JSON of ``GET /ui/connections/hook_meta`` (or the service's models)."""
    (meta,) = [h for h in hook_meta if h.get("connection_type") == "planasonix"]
    assert meta["hook_name"] == "Planasonix"
    assert meta["hook_class_name"] == "planasonix_provider.hooks.planasonix.PlanasonixHook"
    fields = meta["standard_fields"]
    for name, expected in STANDARD_FIELDS.items():
        assert fields[name] == expected, name
    for hidden in HIDDEN_FIELDS:
        assert fields[hidden]["hidden"] is True, hidden
    extras = meta["extra_fields"]
    assert list(extras) == list(CONN_FIELDS)
    for name, spec in CONN_FIELDS.items():
        assert extras[name]["schema"]["title"] == spec["label"], name
        assert extras[name]["description"] == spec["description"], name
        assert "null" in extras[name]["schema"]["type"], name
        if "enum" in spec["schema"]:
            assert extras[name]["schema"]["enum"] == spec["schema"]["enum"], name
        if "default" in spec["schema"]:
            assert extras[name]["value"] == spec["schema"]["default"], name
