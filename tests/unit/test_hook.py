"""PlanasonixHook on connections given as AIRFLOW_CONN_* variables."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest

from planasonix_provider.api import AsyncPlanasonixClient, PlanasonixClient
from planasonix_provider.hooks.planasonix import PlanasonixConnectionError, PlanasonixHook
from planasonix_provider.sandbox.testing import SandboxHandle
from tests.loopback import WireRequest, answer, serving

KEY = "pnx_test_key_do_not_leak_7f3a"


def set_conn(
    monkeypatch: pytest.MonkeyPatch, conn_id: str = "planasonix_default", **fields: object
) -> None:
    payload = {"conn_type": "planasonix", "password": KEY, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))


def test_client_from_json_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(
        monkeypatch,
        host="http://127.0.0.1:9999/",
        extra={"timeout": "12.5", "retry_attempts": 3, "retry_max_wait": 4},
    )
    hook = PlanasonixHook()
    client = hook.client
    assert isinstance(client, PlanasonixClient)
    assert client.base_url == "http://127.0.0.1:9999"
    assert client.retry_policy.max_attempts == 3
    assert client.retry_policy.max_wait == 4.0
    assert hook.client is client  # cached
    assert KEY not in repr(hook) + repr(client) + repr(hook.settings) + str(hook.settings)


def test_default_base_url_when_host_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch)
    assert PlanasonixHook().client.base_url == "https://api.planasonix.com"


def test_uri_form_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PNX_URI", f"planasonix://:{KEY}@api.example.com:8443?timeout=5"
    )
    hook = PlanasonixHook("pnx_uri")
    assert hook.client.base_url == "https://api.example.com:8443"
    assert hook.settings.timeout == 5.0


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"password": ""}, "password (the API key) is empty"),
        ({"host": "not a url"}, "host (the base URL) is not usable: base_url must be an absolute"),
        ({"host": "ftp://x.example.com"}, "host (the base URL)"),
        ({"extra": {"timeout": "abc"}}, "extra field 'timeout' must be a number, got 'abc'"),
        ({"extra": {"retry_attempts": "3.5"}}, "extra field 'retry_attempts' must be an integer"),
        ({"extra": {"retry_attempts": 0}}, "extra field 'retry_attempts' must be at least 1"),
        ({"extra": {"timout": 3}}, "extra field(s) 'timout' are not known"),
        ({"extra": {"http_transport": "curl"}}, "extra field 'http_transport' must be one of"),
        ({"extra": {"job_url_template": "https://x"}}, "must hold a {job_id} placeholder"),
    ],
)
def test_bad_connection_names_conn_id_and_field(
    monkeypatch: pytest.MonkeyPatch, fields: dict, expected: str
) -> None:
    set_conn(monkeypatch, "pnx_bad", **fields)
    with pytest.raises(PlanasonixConnectionError) as info:
        _ = PlanasonixHook("pnx_bad").client
    message = str(info.value)
    assert "'pnx_bad'" in message
    assert expected in message
    assert KEY not in message


def test_resource_url_default_and_template(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, host="https://api.planasonix.com")
    assert PlanasonixHook().resource_url("job", "job_1") == "https://app.planasonix.com/jobs/job_1"
    set_conn(
        monkeypatch,
        "pnx_tpl",
        host="http://127.0.0.1:8000",
        extra={"job_url_template": "{base_url}/ui/jobs/{job_id}"},
    )
    assert (
        PlanasonixHook("pnx_tpl").resource_url("job", "job_9")
        == "http://127.0.0.1:8000/ui/jobs/job_9"
    )


async def test_async_client_shared_per_loop_and_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, host="http://127.0.0.1:9", extra={"http_transport": "httpx"})
    clients = await asyncio.gather(*(PlanasonixHook().get_async_client() for _ in range(20)))
    assert all(isinstance(c, AsyncPlanasonixClient) for c in clients)
    assert len({id(c) for c in clients}) == 1
    set_conn(
        monkeypatch, "other_conn", host="http://127.0.0.1:9", extra={"http_transport": "httpx"}
    )
    other = await PlanasonixHook("other_conn").get_async_client()
    assert other is not clients[0]


async def test_async_client_lease_shares_and_the_last_out_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from planasonix_provider.hooks.client_pool import _shared_clients

    set_conn(monkeypatch, host="http://127.0.0.1:9", extra={"http_transport": "httpx"})
    loop = asyncio.get_running_loop()
    closed: list[AsyncPlanasonixClient] = []

    async def record_close(self: AsyncPlanasonixClient) -> None:
        closed.append(self)

    monkeypatch.setattr(AsyncPlanasonixClient, "aclose", record_close)
    async with PlanasonixHook().async_client() as first:
        async with PlanasonixHook().async_client() as second:
            assert second is first
        assert closed == []  # one borrower is still inside
        assert _shared_clients[loop]["planasonix_default"].client is first
    assert closed == [first]
    assert "planasonix_default" not in _shared_clients.get(loop, {})

    with pytest.raises(KeyError):  # an error inside the block still gives the client back
        async with PlanasonixHook().async_client() as third:
            raise KeyError("boom")
    assert closed == [first, third]


async def test_async_client_lease_enters_once_and_spares_a_pinned_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_conn(monkeypatch, host="http://127.0.0.1:9", extra={"http_transport": "httpx"})
    closed: list[AsyncPlanasonixClient] = []

    async def record_close(self: AsyncPlanasonixClient) -> None:
        closed.append(self)

    monkeypatch.setattr(AsyncPlanasonixClient, "aclose", record_close)
    lease = PlanasonixHook().async_client()
    async with lease as borrowed:
        with pytest.raises(RuntimeError, match="entered once"):
            await lease.__aenter__()
    pinned = await PlanasonixHook().get_async_client()
    async with PlanasonixHook().async_client() as client:
        assert client is pinned
    assert pinned is not borrowed  # the first client was closed when its only lease ended
    assert closed == [borrowed]  # the pinned one stays open for the life of the loop


async def test_async_client_uses_the_connections_http_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from planasonix_provider.api.aiohttp_sender import AiohttpSender

    for transport, expected in (("auto", AiohttpSender), ("aiohttp", AiohttpSender)):
        set_conn(
            monkeypatch,
            f"conn_{transport}",
            host="http://127.0.0.1:9",
            extra={"http_transport": transport},
        )
        async with PlanasonixHook(f"conn_{transport}").async_client() as client:
            assert isinstance(client._sender, expected)
    set_conn(
        monkeypatch, "conn_httpx", host="http://127.0.0.1:9", extra={"http_transport": "httpx"}
    )
    async with PlanasonixHook("conn_httpx").async_client() as client:
        assert not isinstance(client._sender, AiohttpSender)


# --- test_connection against a real local HTTP server ------------------------------------------


class _Stub:
    """What the stub API answers to a GET, and the Authorization header it last saw."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b'{"data": [], "meta": {"page": {"limit": 1, "cursor": null}}}'
        self.seen_auth: str | None = None

    def respond(self, request: WireRequest) -> bytes:
        if request.method != "GET":
            return answer(501)
        self.seen_auth = request.header("Authorization")
        return answer(self.status, self.body, {"Content-Type": "application/json"})


@pytest.fixture
def server() -> Iterator[tuple[str, _Stub]]:
    stub = _Stub()
    with serving(stub.respond) as loopback:
        yield loopback.url, stub


def test_test_connection_ok(monkeypatch: pytest.MonkeyPatch, server: tuple) -> None:
    url, handler = server
    set_conn(monkeypatch, host=url)
    ok, message = PlanasonixHook().test_connection()
    assert ok, message
    assert handler.seen_auth == f"Bearer {KEY}"


def test_test_connection_bad_key(monkeypatch: pytest.MonkeyPatch, server: tuple) -> None:
    url, handler = server
    handler.status = 401
    handler.body = (
        b'{"error": {"code": "unauthorized", "message": "invalid API key", "request_id": "r1"}}'
    )
    set_conn(monkeypatch, host=url)
    ok, message = PlanasonixHook().test_connection()
    assert not ok
    assert "refused the API key" in message and "HTTP 401" in message
    assert KEY not in message


def test_test_connection_wrong_url(monkeypatch: pytest.MonkeyPatch, server: tuple) -> None:
    url, handler = server
    handler.status = 404
    handler.body = b"<html>Not Found</html>"
    set_conn(monkeypatch, host=url + "/api/v1")
    ok, message = PlanasonixHook().test_connection()
    assert not ok
    assert "404" in message and "without /api/v1" in message


def test_test_connection_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    set_conn(monkeypatch, host=f"http://127.0.0.1:{port}")
    ok, message = PlanasonixHook().test_connection()
    assert not ok
    assert "Could not reach http://127.0.0.1" in message


def test_test_connection_bad_config_is_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, password="")
    ok, message = PlanasonixHook().test_connection()
    assert not ok
    assert "API key" in message


def test_key_absent_from_logs(
    monkeypatch: pytest.MonkeyPatch, server: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = server
    set_conn(monkeypatch, host=url)
    with caplog.at_level(logging.DEBUG):
        PlanasonixHook().test_connection()
        list(PlanasonixHook().client.list_jobs())
    assert caplog.records
    assert KEY not in caplog.text


def test_get_conn_returns_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, host="http://127.0.0.1:9999/")
    hook = PlanasonixHook()
    assert hook.get_conn() is hook.client
    assert isinstance(hook.get_conn(), PlanasonixClient)


def _sandbox_conn(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxHandle) -> PlanasonixHook:
    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_DEFAULT", sandbox.airflow_conn_json)
    return PlanasonixHook()


def test_wait_for_job_returns_the_sync_operators_value(
    monkeypatch: pytest.MonkeyPatch, planasonix_sandbox: SandboxHandle
) -> None:
    planasonix_sandbox.control.set_scenario("conn_hook_wait", duration=0.3, rows=7)
    hook = _sandbox_conn(monkeypatch, planasonix_sandbox)
    job = hook.get_conn().trigger_sync("conn_hook_wait")
    summary = hook.wait_for_job(job.id, timeout=30, poll_interval=0.05)
    assert (summary["job_id"], summary["status"]) == (job.id, "succeeded")
    assert summary["tables"] and summary["url"].endswith(f"/jobs/{job.id}")


@pytest.mark.parametrize(
    ("scenario", "kwargs", "message"),
    [
        ({"outcome": "fail", "duration": 0.2}, {}, "failed"),
        ({"duration": 300}, {"timeout": 0.3}, "did not finish before the task's timeout; it was "),
        ({"duration": 300}, {"timeout": 0.3, "cancel_on_timeout": False}, "it was left running"),
    ],
)
def test_wait_for_job_raises_with_the_url(
    monkeypatch: pytest.MonkeyPatch,
    planasonix_sandbox: SandboxHandle,
    scenario: dict,
    kwargs: dict,
    message: str,
) -> None:
    from planasonix_provider.airflow_lines import AirflowException

    planasonix_sandbox.control.set_scenario("conn_hook_wait", **scenario)
    hook = _sandbox_conn(monkeypatch, planasonix_sandbox)
    job = hook.get_conn().trigger_sync("conn_hook_wait")
    with pytest.raises(AirflowException, match=message) as info:
        hook.wait_for_job(job.id, poll_interval=0.05, **kwargs)
    assert str(info.value).endswith(f"/jobs/{job.id}")
    cancelled = hook.get_conn().get_job(job.id).status in ("cancelling", "cancelled")
    assert cancelled is ("timeout" in kwargs and kwargs.get("cancel_on_timeout", True))
