"""The connection form the api-server builds, on the running Airflow line, in-process.

3.2+ reads ``get_provider_info``; 3.0 and 3.1 read the hook's two form methods. The api-server's
own service builds the form here as it would for ``GET /ui/connections/hook_meta``, and the one
expectation in ``tests/form_expectations.py`` checks it, so both paths describe the same form.
"""

from __future__ import annotations

import json

import pytest

from planasonix_provider.airflow_lines import has
from planasonix_provider.hooks.connection_form import (
    CONN_FIELDS,
    UI_FIELD_BEHAVIOUR,
    hook_field_behaviour,
)
from planasonix_provider.hooks.planasonix import PlanasonixHook
from tests.form_expectations import assert_planasonix_form


def test_the_api_server_serves_the_planasonix_form_on_this_line() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    served = [json.loads(meta.model_dump_json()) for meta in HookMetaService.hook_meta_data()]
    assert_planasonix_form(served)


def test_the_hook_methods_return_the_declarative_form_in_their_shape() -> None:
    behaviour = PlanasonixHook.get_ui_field_behaviour()
    assert behaviour == {
        "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
        "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
        "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
    }
    assert behaviour == hook_field_behaviour()
    widgets = PlanasonixHook.get_connection_form_widgets()
    assert list(widgets) == list(CONN_FIELDS)


@pytest.mark.skipif(
    not has("declarative connection form"),
    reason="Airflow < 3.2 has no declarative conn-fields: the hook methods are the form there",
)
def test_the_declarative_form_wins_on_lines_that_have_it() -> None:
    """Airflow 3.2+ skips the hook methods (and their deprecation warning) when the provider
    info declares the form."""
    import warnings

    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        manager = ProvidersManager()
        manager.initialize_providers_hooks()
    assert "planasonix" in manager.field_behaviours
