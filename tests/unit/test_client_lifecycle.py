"""Context managers close the connection pool; a closed client sends nothing."""

from __future__ import annotations

import pytest

from planasonix_provider.api import AsyncPlanasonixClient, PlanasonixClient, PlanasonixError
from tests import reference_examples as ex
from tests.unit import scripted
from tests.unit.scripted import API_KEY, ClosingTransport, Script, ok

AFTER_CLOSE = (RuntimeError, PlanasonixError)


def test_sync_context_manager_closes_the_pool() -> None:
    script = Script(ok(ex.JOB_GET))
    transport = ClosingTransport(script)

    with PlanasonixClient(scripted.BASE_URL, API_KEY, transport=transport) as client:
        assert client.get_job("job_1").id == "job_01jq8syncabc"
        assert not transport.closed

    assert transport.closed
    with pytest.raises(AFTER_CLOSE):
        client.get_job("job_1")
    assert script.count == 1


def test_sync_context_manager_closes_on_error() -> None:
    transport = ClosingTransport(Script())

    with pytest.raises(KeyError), PlanasonixClient(scripted.BASE_URL, API_KEY, transport=transport):
        raise KeyError("boom")
    assert transport.closed


def test_sync_close() -> None:
    transport = ClosingTransport(Script())
    client = PlanasonixClient(scripted.BASE_URL, API_KEY, transport=transport)

    client.close()

    assert transport.closed


async def test_async_context_manager_closes_the_pool() -> None:
    script = Script(ok(ex.JOB_GET))
    transport = ClosingTransport(script)

    async with AsyncPlanasonixClient(scripted.BASE_URL, API_KEY, transport=transport) as client:
        assert (await client.get_job("job_1")).id == "job_01jq8syncabc"
        assert not transport.closed

    assert transport.closed
    with pytest.raises(AFTER_CLOSE):
        await client.get_job("job_1")
    assert script.count == 1


async def test_async_context_manager_closes_on_error() -> None:
    transport = ClosingTransport(Script())

    with pytest.raises(KeyError):
        async with AsyncPlanasonixClient(scripted.BASE_URL, API_KEY, transport=transport):
            raise KeyError("boom")
    assert transport.closed


async def test_async_aclose() -> None:
    transport = ClosingTransport(Script())
    client = AsyncPlanasonixClient(scripted.BASE_URL, API_KEY, transport=transport)

    await client.aclose()

    assert transport.closed


@pytest.mark.parametrize("client_class", [PlanasonixClient, AsyncPlanasonixClient])
def test_retry_policy_is_exposed_and_defaults_sanely(client_class: type) -> None:
    client = client_class(scripted.BASE_URL, API_KEY)
    assert client.retry_policy.max_attempts >= 1
    custom = scripted.fast_policy(max_attempts=7)
    assert client_class(scripted.BASE_URL, API_KEY, retry=custom).retry_policy is custom
