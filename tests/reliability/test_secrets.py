"""The API key and webhook signing secrets never leak: logs, XCom, rendered fields, errors, reprs,
the sandbox's logs; and Airflow's secrets masker knows the key once the hook read it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from planasonix_provider.airflow_lines import AIRFLOW_VERSION
from planasonix_provider.api import AsyncPlanasonixClient, PlanasonixClient
from planasonix_provider.api.errors import PlanasonixError
from planasonix_provider.hooks.planasonix import ConnectionSettings, PlanasonixHook
from planasonix_provider.sandbox.testing import SandboxHandle
from tests.e2e.conftest import run_dag, xcom
from tests.reliability.conftest import FAST, FIGURES, Faults

KEY = "pnx_live_s3cr3tK3yValue_0123456789"


def test_reprs_and_errors_never_hold_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_SECRET",
        json.dumps(
            {
                "conn_type": "planasonix",
                "host": "http://127.0.0.1:9",
                "password": KEY,
                "extra": {"retry_attempts": 1},
            }
        ),
    )
    hook = PlanasonixHook("planasonix_secret")
    texts = [repr(hook), repr(hook.settings), str(hook.settings), repr(hook.client)]
    texts.append(repr(AsyncPlanasonixClient("http://127.0.0.1:9", KEY)))
    texts.append(repr(hook.client._settings))
    # Errors: a refused connection, a base URL with credentials in it.
    with pytest.raises(PlanasonixError) as refused:
        hook.client.get_job("job_1")
    texts.append(str(refused.value))

    with pytest.raises(PlanasonixError) as userinfo:
        PlanasonixClient(f"https://user:{KEY}@x.test", KEY)
    texts.append(str(userinfo.value))
    hook.client.close()
    assert [text for text in texts if KEY in text] == []
    FIGURES.outcome("secrets/reprs-and-errors", "no leak")


def test_a_host_with_credentials_is_not_quoted_in_the_connection_error() -> None:
    host = f"https://apikey:{KEY}@api.planasonix.com"
    with pytest.raises(PlanasonixError) as caught:
        ConnectionSettings.parse("c", host=host, port=None, password=KEY, extra={})
    assert "base URL" in str(caught.value)
    assert KEY not in str(caught.value)


def test_an_echoed_key_in_an_error_body_is_not_quoted() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f"bad header {request.headers['authorization']}")

    with (
        PlanasonixClient("https://x.test", KEY, transport=httpx.MockTransport(echo)) as api,
        pytest.raises(PlanasonixError) as caught,
    ):
        api.get_job("job_1")
    assert KEY not in str(caught.value)


def test_airflow_masks_the_key_once_the_hook_read_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # Airflow 3.0
        from airflow.sdk.execution_time.secrets_masker import redact

    key = "pnx_other_k3y_for_the_masker_98765"
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_MASKED",
        json.dumps({"conn_type": "planasonix", "host": "http://127.0.0.1:9", "password": key}),
    )
    assert key not in repr(PlanasonixHook("planasonix_masked").settings)
    assert redact(f"the key is {key}") == "the key is ***"
    FIGURES.outcome("secrets/masker", "masked")


def test_webhook_secrets_never_print(sandbox: SandboxHandle) -> None:
    secret = "whsec_mine_0123456789abcdef"
    with PlanasonixClient(sandbox.base_url, sandbox.api_key) as api:
        created = api.create_webhook("http://127.0.0.1:9/hook", ["job.failed"], secret=secret)
        rotated = api.rotate_webhook_secret(created.id)
        api.delete_webhook(created.id)
    new = rotated.signing_secret.get_secret_value()
    assert created.signing_secret is not None
    assert created.signing_secret.get_secret_value() == secret
    for model in (created, rotated):
        for text in (
            repr(model),
            str(model),
            json.dumps(model.model_dump(mode="json")),
            model.model_dump_json(),
        ):
            assert secret not in text and new not in text
    FIGURES.outcome("secrets/webhook-models", "no leak")


def files_holding(root: Path, needles: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or path.stat().st_size > 50_000_000:
            continue
        data = path.read_bytes()
        found.extend(f"{path}: {n}" for n in needles if n.encode() in data)
    return found


#: Airflow 3.0's task runner logs, at DEBUG, each secret it asks the supervisor to mask (its
#: connection getter masks the password): dag.test() runs at DEBUG, a deployment's task logs at
#: INFO do not show it. Only that exact Airflow line is set aside, and only on 3.0.
AIRFLOW_30_MASK_REQUEST = re.compile(r"^.*Sending request\s+msg=MaskSecret\(value=.*$", re.M)


def without_airflow_30_mask_requests(captured: str) -> str:
    if AIRFLOW_VERSION >= (3, 1, 0):
        return captured
    return AIRFLOW_30_MASK_REQUEST.sub("", captured)


@pytest.mark.e2e
def test_a_dag_run_leaks_the_key_nowhere(
    dag_sandbox: SandboxHandle,
    faults: Faults,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deferrable run with a retried fault and a webhook: search everything it wrote."""
    import os

    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    conn = "conn_rel_sync_secrets"
    dag_sandbox.control.set_scenario(conn, **FAST)
    faults.add(method="GET", path="/api/v1/jobs/job_*", status=503, count=1)
    with PlanasonixClient(dag_sandbox.base_url, dag_sandbox.api_key) as api:
        hook = api.create_webhook("http://127.0.0.1:9/nowhere", ["job.succeeded"])
        assert hook.signing_secret is not None
        webhook_secret = hook.signing_secret.get_secret_value()
        _, tis = run_dag("rel_sync_secrets")
        deliveries = list(api.list_webhook_deliveries(hook.id))
        api.delete_webhook(hook.id)
    ti = tis["sync"]
    assert ti.state == "success"
    needles = [dag_sandbox.api_key, webhook_secret]
    out, err = capfd.readouterr()
    captured = without_airflow_30_mask_requests(out + err + caplog.text)
    assert "Planasonix job job_" in captured  # the capture really holds the run's logs
    assert [n for n in needles if n in captured] == []
    everything: dict[str, Any] = {
        "xcom": [xcom(ti, key) for key in ("return_value", "planasonix_job_id", "planasonix_url")],
        "deliveries": [d.model_dump(mode="json") for d in deliveries],
    }
    with create_session() as session:
        rendered = session.get(
            RenderedTaskInstanceFields, (ti.dag_id, ti.task_id, ti.run_id, ti.map_index)
        )
        everything["rendered"] = None if rendered is None else rendered.rendered_fields
    dumped = json.dumps(everything, default=str)
    assert [n for n in needles if n in dumped] == []
    assert files_holding(Path(os.environ["AIRFLOW_HOME"]), needles) == []
    FIGURES.outcome("secrets/dag-run", "no leak")
