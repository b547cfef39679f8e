"""Persistent faults (400, 401, 403, 404) fail at once, with no retry, naming cause and fix."""

from __future__ import annotations

import pytest

from planasonix_provider.api import PlanasonixClient
from planasonix_provider.api.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    PlanasonixAPIError,
)
from planasonix_provider.hooks.planasonix import PlanasonixHook
from planasonix_provider.sandbox.testing import SandboxHandle
from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger
from tests.reliability.conftest import FAST, FIGURES, POLL, Faults, fake_context, run_trigger

#: status -> (error class, words the message must hold: the cause and the fix)
PERSISTENT: dict[int, tuple[type[PlanasonixAPIError], tuple[str, ...]]] = {
    400: (BadRequestError, ("HTTP 400", "fix the field")),
    401: (AuthenticationError, ("HTTP 401", "API key was refused", "password (API key)")),
    403: (PermissionDeniedError, ("HTTP 403", "lacks the scope", "grant it")),
    404: (NotFoundError, ("HTTP 404", "Check the id", "base URL")),
}


def requests_to(sandbox: SandboxHandle, template: str) -> int:
    return int(sandbox.control.counters()["requests"].get(template, 0))


@pytest.mark.parametrize("status", PERSISTENT)
async def test_poll_fails_at_once(sandbox: SandboxHandle, faults: Faults, status: int) -> None:
    error, words = PERSISTENT[status]
    conn = f"rel_persistent_{status}"
    sandbox.control.set_scenario(conn, **FAST)
    with PlanasonixClient(sandbox.base_url, sandbox.api_key) as api:
        job = api.trigger_sync(conn)
    faults.add(method="GET", path=f"/api/v1/jobs/{job.id}", status=status)
    template = "GET /api/v1/jobs/{job_id}"

    # The trigger: one request, then an error event.
    before = requests_to(sandbox, template)
    payload = await run_trigger(PlanasonixJobTrigger(job.id, poll_interval=POLL))
    assert requests_to(sandbox, template) - before == 1
    assert payload["status"] == "error"
    for word in words:
        assert word in payload["message"]

    # The worker: one request, then the typed error.
    hook = PlanasonixHook()
    before = requests_to(sandbox, template)
    with pytest.raises(error) as caught:
        hook.client.get_job(job.id)
    hook.client.close()
    assert requests_to(sandbox, template) - before == 1
    for word in words:
        assert word in str(caught.value)
    # The API's own message is kept (and its code, where the profile sends one).
    assert "fault injected by the Planasonix sandbox" in str(caught.value)
    assert "request_id=" in str(caught.value)
    FIGURES.outcome(f"persistent/{status}", "failed at once")


@pytest.mark.parametrize("status", PERSISTENT)
def test_start_fails_at_once(sandbox: SandboxHandle, faults: Faults, status: int) -> None:
    from planasonix_provider.operators.planasonix import PlanasonixSyncOperator

    error, words = PERSISTENT[status]
    conn = f"rel_persistent_start_{status}"
    faults.add(method="POST", path=f"/api/v1/connections/{conn}/sync", status=status)
    template = "POST /api/v1/connections/{connection_id}/sync"
    before = requests_to(sandbox, template)
    op = PlanasonixSyncOperator(task_id="sync", connection_id=conn)
    with pytest.raises(error) as caught:
        op.start(op.hook.client, fake_context())
    op.hook.client.close()
    assert requests_to(sandbox, template) - before == 1
    assert sandbox.control.jobs_started(connection_id=conn) == 0
    for word in words:
        assert word in str(caught.value)
    FIGURES.outcome(f"persistent-start/{status}", "failed at once")


def test_a_wrong_key_is_a_clear_401(sandbox: SandboxHandle) -> None:
    wrong = "pnx_wrong_key_0123456789"
    with (
        PlanasonixClient(sandbox.base_url, wrong) as api,
        pytest.raises(AuthenticationError) as caught,
    ):
        api.get_job("job_1")
    assert caught.value.status_code == 401
    assert "check the password (API key) of the Airflow connection" in str(caught.value)
    assert wrong not in str(caught.value)
    FIGURES.outcome("persistent/wrong-key", "failed at once")
