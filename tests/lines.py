"""Skip markers for tests of a feature that only newer Airflow lines have.

Each skip names the running version and the line that has the feature; a test beside it proves
what the provider does without it.
"""

from __future__ import annotations

from typing import Any

import pytest

from planasonix_provider.airflow_lines import AIRFLOW_VERSION_STRING, FEATURES, has


def needs(feature: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not has(feature),
        reason=f"Airflow {AIRFLOW_VERSION_STRING} has no {feature} "
        f"(Airflow {FEATURES[feature].since_text}+)",
    )


def lacks(feature: str) -> pytest.MarkDecorator:
    """For the test of the fallback: skipped where the feature is there."""
    return pytest.mark.skipif(
        has(feature),
        reason=f"Airflow {AIRFLOW_VERSION_STRING} has the {feature}: the fallback never runs",
    )


def dag_bag(folder: str) -> Any:
    """Airflow's DagBag over ``folder``, from where the running line keeps it."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.models.dagbag import DagBag
    return DagBag(folder)
