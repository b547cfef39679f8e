"""The sandbox under a fuzzing API tester with negative inputs: never a 5xx (schemathesis 4)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from planasonix_provider.sandbox.testing import run_sandbox
from tests.reliability.conftest import FIGURES

SPEC = Path(__file__).resolve().parents[2] / "planasonix_provider" / "api" / "openapi.yaml"
EXAMPLES_PER_OPERATION = 12
BUDGET_SECONDS = 60.0


def test_negative_fuzzing_finds_no_server_error() -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    started = time.monotonic()
    with run_sandbox(speed=50, seed=3) as handle:
        schema = schemathesis.openapi.from_path(SPEC)
        schema.config.update(base_url=handle.base_url)
        schema.config.generation.update(modes=[GenerationMode.NEGATIVE])
        headers = {"Authorization": f"Bearer {handle.api_key}"}
        failures: list[str] = []
        statuses: dict[int, int] = {}
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
            def check(case: Any) -> None:
                response = case.call(headers=headers, timeout=10)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
                case.validate_response(response, checks=[not_a_server_error])

            try:
                check()
            except Exception as exc:  # keep going: report every operation at once
                if "Unsatisfiable" not in type(exc).__name__:
                    failures.append(f"{operation.label}: {type(exc).__name__}: {exc}"[:300])
            if time.monotonic() - started > BUDGET_SECONDS:
                pytest.fail(f"negative fuzzing overran its {BUDGET_SECONDS}s budget")
    calls = sum(statuses.values())
    assert operations >= 17
    assert calls >= operations * 3, statuses
    assert failures == []
    # Negative data: the sandbox mostly rejects it, with 4xx.
    assert sum(n for status, n in statuses.items() if 400 <= status < 500) > calls / 2, statuses
    FIGURES.outcome(f"fuzz/negative/{calls}-calls", "no 5xx")
