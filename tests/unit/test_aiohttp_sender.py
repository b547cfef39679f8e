"""The aiohttp sender over real TCP: what a scripted server cannot show.

Every test talks to a peer on 127.0.0.1 (a ``tests.loopback`` server) that sees the
bytes the client put on the wire: the faults after a request was read, refused connections,
headers, query and body as sent, proxies from the environment, and the closing of the session.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import socket
import warnings
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import httpx
import pytest
import yarl
from multidict import CIMultiDict, CIMultiDictProxy

from planasonix_provider.api import (
    AsyncPlanasonixClient,
    AuthenticationError,
    PlanasonixError,
    PlanasonixTransportError,
    PlanasonixValidationError,
    RequestMayHaveBeenProcessedError,
    ResponseParseError,
)
from planasonix_provider.api import operations as ops
from planasonix_provider.api.aiohttp_sender import ERROR_MAP, AiohttpSender, send_error_from_aiohttp
from planasonix_provider.api.errors import MaybeSentError, NotSentError, SendError
from tests import reference_examples as ex
from tests.loopback import LoopbackServer, WireRequest, encode_response, in_order
from tests.unit import harness, scripted
from tests.unit.scripted import API_KEY, USER_AGENT, assert_no_secret

READ_TIMEOUT = 0.25
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")

# --- A peer over real TCP ---------------------------------------------------------------------

#: What the peer does with one request: answer these bytes, or a function of the request's
#: bytes; or "close" (FIN, no answer), "reset" (RST, no answer), "hold" (no answer until the
#: client hangs up).
Action = bytes | str | Callable[[WireRequest], bytes]


def answer(body: Any = None, status: int = 200, **headers: str) -> bytes:
    return encode_response(httpx.Response(status, json=body, headers=headers or None))


def text_answer(status: int, text: str, content_type: str = "text/plain") -> bytes:
    return encode_response(
        httpx.Response(status, content=text.encode(), headers={"content-type": content_type})
    )


def serving(*actions: Action, repeat_last: bool = False, port: int = 0) -> LoopbackServer:
    """A loopback server that plays ``actions`` in order, one per request."""
    return LoopbackServer(in_order(*actions, repeat_last=repeat_last), port=port)


class Sleeps(list[float]):
    """A ``sleep=`` that records each wait and does not wait."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


def aiohttp_client(
    base_url: str, sleeps: Sleeps | None = None, **kwargs: Any
) -> AsyncPlanasonixClient:
    kwargs.setdefault("retry", scripted.fast_policy())
    kwargs.setdefault("sleep", sleeps if sleeps is not None else Sleeps())
    return AsyncPlanasonixClient(base_url, API_KEY, http_transport="aiohttp", **kwargs)


@pytest.fixture(autouse=True)
def no_proxy_from_the_developer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever proxies the machine sets, these tests choose their own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def count_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every request the aiohttp sender tried to send, reached a server or not."""
    sent: list[str] = []
    real_send = AiohttpSender.send

    async def send(
        self: AiohttpSender, operation: ops.Operation[Any], url: object | None = None
    ) -> Any:
        sent.append(f"{operation.method} {operation.path}")
        return await real_send(self, operation, url)

    monkeypatch.setattr(AiohttpSender, "send", send)
    return sent


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, so no one else takes it, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# --- (a) A creating POST is never re-sent once the server may have read it -------------------

FAULTS_AFTER_READ = ["close", "reset", "hold"]
#: The kind of failure each fault is, in the names our send errors use (httpx's words).
CAUSES = {"close": "RemoteProtocolError", "reset": "ReadError", "hold": "ReadTimeout"}


@pytest.mark.parametrize("fault", FAULTS_AFTER_READ)
async def test_trigger_sync_read_then_dropped_may_have_been_processed(fault: str) -> None:
    sleeps = Sleeps()
    async with (
        serving(fault, answer(ex.SYNC_RESPONSE, 202)) as peer,
        aiohttp_client(peer.url, sleeps, timeout=httpx.Timeout(READ_TIMEOUT)) as client,
    ):
        with pytest.raises(RequestMayHaveBeenProcessedError) as caught:
            await client.trigger_sync("conn_1", metadata={"dag_run_id": "r1"})

    assert peer.targets == ["POST /api/v1/connections/conn_1/sync"], "sent exactly once"
    assert json.loads(peer.requests[0].body) == {"metadata": {"dag_run_id": "r1"}}
    assert sleeps == []
    error = caught.value
    assert error.status_code is None
    assert f"{CAUSES[fault]} after the request was sent" in str(error)
    assert isinstance(error.__cause__, MaybeSentError)
    assert error.__cause__.name == CAUSES[fault]


# --- (b) A GET is retried after the same faults --------------------------------------------


@pytest.mark.parametrize("fault", FAULTS_AFTER_READ)
async def test_get_job_is_retried_after_a_fault_and_succeeds(fault: str) -> None:
    async with (
        serving(fault, answer(ex.JOB_GET)) as peer,
        aiohttp_client(peer.url, timeout=httpx.Timeout(READ_TIMEOUT)) as client,
    ):
        job = await client.get_job("job_01jq8syncabc")

    assert (job.id, job.status) == ("job_01jq8syncabc", "running")
    assert peer.targets == ["GET /api/v1/jobs/job_01jq8syncabc"] * 2


@pytest.mark.parametrize("fault", ["close", "reset", "hold"])
@pytest.mark.parametrize("max_attempts", [1, 3])
async def test_every_resend_of_a_get_is_the_retry_policys(fault: str, max_attempts: int) -> None:
    sleeps = Sleeps()
    async with (
        serving(fault, repeat_last=True) as peer,
        aiohttp_client(
            peer.url,
            sleeps,
            retry=scripted.fast_policy(max_attempts=max_attempts),
            timeout=httpx.Timeout(READ_TIMEOUT),
        ) as client,
    ):
        with pytest.raises(PlanasonixTransportError) as caught:
            await client.get_job("job_1")

    assert caught.value.cause_name == CAUSES[fault]
    assert len(peer.requests) == max_attempts, peer.targets
    assert len(sleeps) == max_attempts - 1


# --- (c) A refused connection sent nothing: even a creating POST is retried ------------------


async def test_refused_trigger_sync_is_retried_up_to_max_attempts(
    refused_port: int, count_sends: list[str]
) -> None:
    sleeps = Sleeps()
    policy = scripted.fast_policy(max_attempts=4)
    async with aiohttp_client(f"http://127.0.0.1:{refused_port}", sleeps, retry=policy) as client:
        with pytest.raises(PlanasonixTransportError) as caught:
            await client.trigger_sync("conn_1")

    assert not isinstance(caught.value, RequestMayHaveBeenProcessedError)
    assert count_sends == ["POST /api/v1/connections/conn_1/sync"] * policy.max_attempts
    assert len(sleeps) == policy.max_attempts - 1
    assert caught.value.cause_name == "ConnectError"
    assert isinstance(caught.value.__cause__, NotSentError)
    assert "trigger_sync (POST /api/v1/connections/conn_1/sync) got no answer" in str(caught.value)


async def test_refused_then_answered_trigger_sync_succeeds(count_sends: list[str]) -> None:
    """The port refuses the first attempt; a server listens on it by the second."""
    placeholder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    placeholder.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    peer = serving(answer(ex.SYNC_RESPONSE, 202), port=placeholder.getsockname()[1])
    sleeps = Sleeps()

    async def start_listening(delay: float) -> None:
        sleeps.append(delay)
        placeholder.close()
        await peer.__aenter__()

    try:
        async with aiohttp_client(peer.url, sleep=start_listening) as client:
            job = await client.trigger_sync("conn_1")
    finally:
        placeholder.close()
        if sleeps:
            await peer.__aexit__(None, None, None)

    assert job.id == "job_01jq8syncabc"
    assert count_sends == ["POST /api/v1/connections/conn_1/sync"] * 2
    assert peer.targets == ["POST /api/v1/connections/conn_1/sync"]
    assert len(sleeps) == 1


# --- (d) aiohttp's exceptions in our terms: never sent, or may have been sent ----------------

_KEY = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None, None)
_INFO = aiohttp.RequestInfo(
    yarl.URL("http://127.0.0.1:1/api/v1/jobs/j"),
    "GET",
    CIMultiDictProxy(CIMultiDict({"Authorization": f"Bearer {API_KEY}"})),
)
NOT_SENT, MAYBE_SENT = NotSentError, MaybeSentError
MAPPING: list[tuple[BaseException, type[SendError], str]] = [
    (aiohttp.ConnectionTimeoutError("Connection timeout"), NOT_SENT, "ConnectTimeout"),
    (aiohttp.SocketTimeoutError("Timeout on reading data from socket"), MAYBE_SENT, "ReadTimeout"),
    (
        aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "refused")),
        NOT_SENT,
        "ConnectError",
    ),
    (aiohttp.ServerDisconnectedError(), MAYBE_SENT, "RemoteProtocolError"),
    (aiohttp.ClientPayloadError("Response payload is not completed"), MAYBE_SENT, "ReadError"),
    (
        aiohttp.ClientResponseError(_INFO, (), status=400, message="bad"),
        MAYBE_SENT,
        "RemoteProtocolError",
    ),
    (aiohttp.ClientOSError(104, "Connection reset by peer"), MAYBE_SENT, "ReadError"),
    (asyncio.TimeoutError(), MAYBE_SENT, "ReadTimeout"),
]
MAPPING_AND_MORE = [
    *MAPPING,
    # Subclasses take their base's mapping.
    (
        aiohttp.ClientConnectorDNSError(_KEY, OSError(-2, "Name not known")),
        NOT_SENT,
        "ConnectError",
    ),
    (aiohttp.ClientHttpProxyError(_INFO, (), status=407), MAYBE_SENT, "RemoteProtocolError"),
    # Anything unknown counts as possibly sent.
    (aiohttp.ClientError("something new"), MAYBE_SENT, "TransportError"),
    (aiohttp.ClientConnectionError("something new"), MAYBE_SENT, "TransportError"),
    (
        aiohttp.ClientConnectionResetError("Cannot write to closing transport"),
        MAYBE_SENT,
        "TransportError",
    ),
]


def test_the_mapping_table_covers_every_entry_of_the_error_map() -> None:
    assert [(type(exc), kind, name) for exc, kind, name in MAPPING] == list(ERROR_MAP)


@pytest.mark.parametrize(
    ("exc", "expected", "name"), MAPPING_AND_MORE, ids=lambda v: type(v).__name__
)
def test_send_error_from_aiohttp(exc: BaseException, expected: type[SendError], name: str) -> None:
    mapped = send_error_from_aiohttp(exc)

    assert type(mapped) is expected
    assert mapped.name == name
    assert mapped.detail == (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    assert API_KEY not in str(mapped)


# --- (e) What goes over the wire --------------------------------------------------------------


async def test_headers_on_the_wire() -> None:
    async with serving(answer(ex.JOB_GET)) as peer, aiohttp_client(peer.url) as client:
        await client.get_job("job_1")

    request = peer.requests[0]
    assert request.target == "/api/v1/jobs/job_1"
    assert request.version == "HTTP/1.1"
    assert request.header("authorization") == f"Bearer {API_KEY}"
    assert request.header("user-agent") == USER_AGENT
    assert request.header("accept") == "application/json"
    assert request.header("host") == f"127.0.0.1:{peer.port}"
    assert request.header("cookie") is None
    assert request.body == b""


async def test_get_openapi_spec_sends_its_own_accept_only() -> None:
    async with (
        serving(text_answer(200, ex.OPENAPI_YAML, "application/yaml"), answer(ex.JOB_GET)) as peer,
        aiohttp_client(peer.url) as client,
    ):
        assert await client.get_openapi_spec() == ex.OPENAPI_YAML
        await client.get_job("job_1")

    spec, job = peer.requests
    assert spec.target == "/api/v1/openapi.yaml"
    assert spec.header("accept") == ops.get_openapi_spec().accept
    assert spec.header("authorization") == f"Bearer {API_KEY}"
    assert job.header("accept") == "application/json", "the per-request Accept does not stick"


async def test_query_parameters_on_the_wire() -> None:
    since = datetime(2025, 3, 27, 16, 0, tzinfo=timezone(timedelta(hours=2)))
    async with (
        serving(
            encode_response(scripted.page(ex.JOB_LIST["data"], "cur+1/= &x")), answer(ex.JOB_LIST)
        ) as peer,
        aiohttp_client(peer.url) as client,
    ):
        jobs = [job async for job in client.list_jobs(status="running", since=since, page_size=5)]

    assert len(jobs) == 2
    first, second = (urlsplit(r.target) for r in peer.requests)
    assert first.path == second.path == "/api/v1/jobs"
    assert parse_qs(first.query, strict_parsing=True) == {
        "status": ["running"],
        "since": ["2025-03-27T14:00:00Z"],
        "limit": ["5"],
    }
    assert parse_qs(second.query, strict_parsing=True) == {
        "status": ["running"],
        "since": ["2025-03-27T14:00:00Z"],
        "limit": ["5"],
        "cursor": ["cur+1/= &x"],
    }


@pytest.mark.parametrize(
    ("call", "method", "path", "body", "reply"),
    [
        (
            lambda c: c.trigger_sync(
                "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
                pipeline_id="pl_01hqxyz",
                priority="normal",
                metadata=ex.SYNC_REQUEST["metadata"],
            ),
            "POST",
            "/api/v1/connections/conn_01jq8k2m3n4p5q6r7s8t9u0v1/sync",
            ex.SYNC_REQUEST,
            answer(ex.SYNC_RESPONSE, 202),
        ),
        (
            # The operation alone: the client method reads the subscription first (a GET).
            lambda c: c.send(ops.update_webhook("wh_01jq8hook02", **ex.WEBHOOK_UPDATE_REQUEST)),
            "PUT",
            "/api/v1/webhooks/wh_01jq8hook02",
            ex.WEBHOOK_UPDATE_REQUEST,
            answer(ex.WEBHOOK_UPDATE),
        ),
        (
            lambda c: c.create_webhook(
                ex.WEBHOOK_CREATE_REQUEST["url"],
                ex.WEBHOOK_CREATE_REQUEST["events"],
                secret=ex.WEBHOOK_CREATE_REQUEST["secret"],
            ),
            "POST",
            "/api/v1/webhooks",
            ex.WEBHOOK_CREATE_REQUEST,
            answer(ex.WEBHOOK_CREATE, 201),
        ),
    ],
    ids=["trigger_sync", "update_webhook", "create_webhook"],
)
async def test_json_bodies_on_the_wire(
    call: Callable[[Any], Awaitable[Any]],
    method: str,
    path: str,
    body: dict[str, Any],
    reply: bytes,
) -> None:
    async with serving(reply) as peer, aiohttp_client(peer.url) as client:
        await call(client)

    request = peer.requests[0]
    assert (request.method, request.target) == (method, path)
    assert request.header("content-type") == "application/json"
    assert request.header("content-length") == str(len(request.body))
    assert json.loads(request.body) == body


async def test_a_post_without_body_sends_none() -> None:
    async with serving(answer(ex.JOB_CANCEL)) as peer, aiohttp_client(peer.url) as client:
        await client.cancel_job("job_1")

    request = peer.requests[0]
    assert (request.method, request.target) == ("POST", "/api/v1/jobs/job_1/cancel")
    assert (request.body, request.header("content-length")) == (b"", "0")


@pytest.mark.parametrize(
    "job_id",
    [
        "job 50%",
        "a+b",
        "c?x",
        "bf#1",
        "~tilde_-.",
        "wh:02",
        "a;b",
        "me@example.com",
        "x=1&y=(2)",
    ],
)
async def test_both_senders_put_the_same_path_on_the_wire(job_id: str) -> None:
    async with serving(answer(ex.JOB_GET), answer(ex.JOB_GET)) as peer:
        for transport in ("httpx", "aiohttp"):
            async with AsyncPlanasonixClient(
                peer.url, API_KEY, http_transport=transport, retry=scripted.fast_policy()
            ) as client:
                await client.get_job(job_id)

    by_httpx, by_aiohttp = (r.target for r in peer.requests)
    assert by_httpx == ops.get_job(job_id).path
    assert by_aiohttp == by_httpx


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
async def test_a_redirect_is_not_followed(transport: str) -> None:
    moved = encode_response(httpx.Response(307, headers={"Location": "/api/v1/elsewhere"}))
    error: PlanasonixError | None = None
    async with (
        serving(moved, answer(ex.SYNC_RESPONSE, 202)) as peer,
        AsyncPlanasonixClient(
            peer.url, API_KEY, http_transport=transport, retry=scripted.fast_policy()
        ) as client,
    ):
        try:
            await client.trigger_sync("conn_1")
        except PlanasonixError as exc:
            error = exc

    assert peer.targets == ["POST /api/v1/connections/conn_1/sync"], "sent once, nowhere else"
    assert error is not None
    assert "failed with HTTP 307" in str(error)


# --- (f) A prepared operation's URL is reused ----------------------------------------------


async def test_a_prepared_operation_is_sent_with_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    async with (
        serving(answer(ex.JOB_GET), answer(ex.JOB_GET)) as peer,
        aiohttp_client(peer.url) as client,
    ):
        operation = client.prepare(ops.get_job("job 1"))
        assert isinstance(operation.url, yarl.URL)
        assert str(operation.url) == f"{peer.url}/api/v1/jobs/job%201"
        assert not hasattr(operation.operation, "url"), "the I/O-free operation holds no URL"

        def no_resolving(self: AiohttpSender, operation: ops.Operation[Any]) -> yarl.URL:
            raise AssertionError("the prepared URL must be reused, not resolved again")

        monkeypatch.setattr(AiohttpSender, "resolve", no_resolving)
        first = await client.send(operation)
        second = await client.send(operation)

    assert first.id == second.id == "job_01jq8syncabc"
    assert peer.targets == ["GET /api/v1/jobs/job%201"] * 2


# --- (g) Proxies from the environment -------------------------------------------------------


async def test_http_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serving() as origin, serving(answer(ex.JOB_GET)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{proxy.port}")
        async with aiohttp_client(origin.url) as client:
            job = await client.get_job("job_1")

    assert job.id == "job_01jq8syncabc"
    assert origin.requests == []
    request = proxy.requests[0]
    assert proxy.targets == [f"GET {origin.url}/api/v1/jobs/job_1"], "absolute-form target"
    assert request.header("proxy-authorization") == "Basic " + base64.b64encode(
        b"user:p@ss"
    ).decode("ascii")
    assert request.header("authorization") == f"Bearer {API_KEY}"


async def test_no_proxy_covering_the_host_goes_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serving(answer(ex.JOB_GET)) as origin, serving() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        async with aiohttp_client(origin.url) as client:
            await client.get_job("job_1")

    assert proxy.requests == []
    assert origin.targets == ["GET /api/v1/jobs/job_1"]


async def test_the_environment_is_read_when_the_client_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        serving(answer(ex.JOB_GET)) as origin,
        serving() as proxy,
        aiohttp_client(origin.url) as client,
    ):
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        await client.get_job("job_1")

    assert proxy.requests == []
    assert len(origin.requests) == 1


PROXY_REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"


async def _through_https_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[LoopbackServer, PlanasonixError]:
    """get_job on the https base URL through an HTTPS_PROXY that refuses the tunnel."""
    async with serving(PROXY_REFUSAL) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with aiohttp_client(
            scripted.BASE_URL, retry=scripted.fast_policy(max_attempts=1)
        ) as client:
            with pytest.raises(PlanasonixTransportError) as caught:
                await client.get_job("job_1")
    return proxy, caught.value


async def test_https_proxy_from_the_environment_is_asked_for_a_tunnel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, error = await _through_https_proxy(monkeypatch)

    assert proxy.targets == ["CONNECT api.planasonix.test:443"]
    assert "got no answer" in str(error)
    assert "403" in str(error)


async def test_https_proxy_is_not_sent_the_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy, error = await _through_https_proxy(monkeypatch)

    connect = proxy.requests[0]
    assert connect.method == "CONNECT"
    assert [v for _, v in connect.headers if API_KEY in v] == [], connect.headers
    assert_no_secret(error)


async def test_http_proxy_without_credentials_gets_no_proxy_authorization(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving() as origin, serving(answer(ex.JOB_GET)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with aiohttp_client(origin.url) as client:
            await client.get_job("job_1")

    assert proxy.targets == [f"GET {origin.url}/api/v1/jobs/job_1"]
    assert proxy.requests[0].header("proxy-authorization") is None


# --- (h) The API key is in no error -------------------------------------------------------


def _echo(status: int, content_type: str) -> Callable[[WireRequest], bytes]:
    """A body that quotes the request's headers back, as some proxies' error pages do."""

    def respond(request: WireRequest) -> bytes:
        quoted = "\n".join(f"{name}: {value}" for name, value in request.headers)
        return text_answer(status, f"<pre>You sent:\n{quoted}</pre>", content_type)

    return respond


async def test_a_non_json_body_echoing_the_key_is_a_parse_error_without_it() -> None:
    async with serving(_echo(200, "text/html")) as peer, aiohttp_client(peer.url) as client:
        with pytest.raises(ResponseParseError) as caught:
            await client.get_job("job_1")

    assert peer.requests[0].header("authorization") == f"Bearer {API_KEY}", "echoed back"
    message = str(caught.value)
    assert "not JSON" in message
    assert "Authorization: Bearer ***" in message
    assert_no_secret(caught.value)


async def test_an_error_status_echoing_the_key_does_not_show_it() -> None:
    async with serving(_echo(401, "text/html")) as peer, aiohttp_client(peer.url) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_job("job_1")

    assert "Authorization: Bearer ***" in str(caught.value)
    assert_no_secret(caught.value)


GARBLED = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBroken header\r\n\r\n{}"


@pytest.mark.parametrize("name", ["get_job", "trigger_sync"])
@pytest.mark.parametrize(
    "action",
    [
        "close",
        "reset",
        "hold",
        pytest.param(GARBLED, id="garbled-answer"),
    ],
)
async def test_no_transport_error_holds_the_key(name: str, action: Action) -> None:
    async with (
        serving(action, repeat_last=True) as peer,
        aiohttp_client(
            peer.url,
            retry=scripted.fast_policy(max_attempts=2),
            timeout=httpx.Timeout(READ_TIMEOUT),
        ) as client,
    ):
        with pytest.raises(PlanasonixError) as caught:
            await getattr(client, name)("id_1")

    assert isinstance(caught.value, (PlanasonixTransportError, RequestMayHaveBeenProcessedError))
    assert_no_secret(caught.value)


async def test_a_refused_connection_error_does_not_hold_the_key(refused_port: int) -> None:
    async with aiohttp_client(
        f"http://127.0.0.1:{refused_port}", retry=scripted.fast_policy(max_attempts=1)
    ) as client:
        with pytest.raises(PlanasonixTransportError) as caught:
            await client.get_job("job_1")
    assert_no_secret(caught.value)


# --- (i) Choosing the HTTP library ---------------------------------------------------------


@pytest.mark.parametrize("value", ["curl", "", "AIOHTTP", None])
def test_an_unknown_http_transport_is_refused(value: Any) -> None:
    with pytest.raises(PlanasonixValidationError, match="http_transport") as caught:
        AsyncPlanasonixClient(scripted.BASE_URL, API_KEY, http_transport=value)
    assert API_KEY not in str(caught.value)


def test_an_httpx_transport_with_aiohttp_is_refused() -> None:
    transport = httpx.MockTransport(scripted.Script())
    with pytest.raises(PlanasonixValidationError, match=r"transport=.*http_transport='aiohttp'"):
        AsyncPlanasonixClient(
            scripted.BASE_URL, API_KEY, transport=transport, http_transport="aiohttp"
        )


async def test_auto_sends_with_aiohttp_when_it_is_installed() -> None:
    async with (
        AsyncPlanasonixClient(scripted.BASE_URL, API_KEY) as auto,
        AsyncPlanasonixClient(scripted.BASE_URL, API_KEY, http_transport="aiohttp") as chosen,
        AsyncPlanasonixClient(scripted.BASE_URL, API_KEY, http_transport="httpx") as other,
    ):
        assert type(auto._sender) is AiohttpSender
        assert type(chosen._sender) is AiohttpSender
        assert type(other._sender) is not AiohttpSender


# --- (j) Closing ------------------------------------------------------------------------------


def _unclosed_session_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "Unclosed client session" in str(w.message)]


async def _used_session(client: Any) -> aiohttp.ClientSession:
    await client.get_job("job_1")
    session = client._sender._session
    assert isinstance(session, aiohttp.ClientSession)
    assert not session.closed
    return session


async def test_aclose_closes_the_session(caplog: pytest.LogCaptureFixture) -> None:
    async with serving(answer(ex.JOB_GET)) as peer:
        client = aiohttp_client(peer.url)
        session = await _used_session(client)

        await client.aclose()

        assert session.closed
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del client, session
            gc.collect()
    assert _unclosed_session_warnings(caught) == []
    assert "Unclosed" not in caplog.text


async def test_the_unclosed_session_check_does_see_an_unclosed_session() -> None:
    """The check above is not blind: a client never closed does warn."""
    async with serving(answer(ex.JOB_GET)) as peer:
        client = aiohttp_client(peer.url)
        session = await _used_session(client)
        connector = session.connector
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del client, session
            gc.collect()
        assert connector is not None
        await connector.close()  # leave nothing open behind the test
    assert len(_unclosed_session_warnings(caught)) == 1


async def test_async_with_closes_the_session() -> None:
    async with serving(answer(ex.JOB_GET), answer(ex.JOB_GET)) as peer:
        async with aiohttp_client(peer.url) as client:
            session = await _used_session(client)
        assert session.closed
        with pytest.raises((RuntimeError, PlanasonixError)):
            await client.get_job("job_1")
    assert len(peer.requests) == 1


async def test_async_with_closes_the_session_on_error() -> None:
    sessions: list[aiohttp.ClientSession] = []

    async def fail_inside(peer: LoopbackServer) -> None:
        async with aiohttp_client(peer.url) as client:
            sessions.append(await _used_session(client))
            raise KeyError("boom")

    async with serving(answer(ex.JOB_GET)) as peer:
        with pytest.raises(KeyError):
            await fail_inside(peer)
    assert [session.closed for session in sessions] == [True]


async def test_a_client_never_used_opens_no_session() -> None:
    client = aiohttp_client(scripted.BASE_URL)
    await client.aclose()
    await client.aclose()
    assert isinstance(client._sender, AiohttpSender)
    assert client._sender._session is None


# --- The harness's aiohttp kind is faithful and never passes silently ------------------------


async def test_the_aiohttp_kind_records_requests_as_the_mock_transport_does() -> None:
    async with harness.ApiPool("aiohttp") as pool:
        api = pool.make(scripted.ok(ex.SYNC_RESPONSE, 202))
        await api.call("trigger_sync", "conn 1", priority="high")

    request = api.script.last
    assert str(request.url) == f"{scripted.BASE_URL}/api/v1/connections/conn%201/sync"
    assert request.headers["host"] == "api.planasonix.test"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert scripted.body_of(request) == {"priority": "high"}


async def test_the_aiohttp_kind_fails_on_an_unexpected_request() -> None:
    pool = harness.ApiPool("aiohttp")
    api = pool.make()

    with pytest.raises(RequestMayHaveBeenProcessedError):  # the server hung up on it
        await api.call("trigger_sync", "conn_1")
    with pytest.raises(AssertionError, match="unexpected request #1"):
        await pool.__aexit__(None, None, None)


@pytest.mark.parametrize(
    "step", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout]
)
def test_the_aiohttp_kind_skips_what_no_server_can_play(step: type[httpx.TransportError]) -> None:
    with pytest.raises(pytest.skip.Exception, match=step.__name__):
        harness.Api("aiohttp", scripted.Script(scripted.ok(ex.JOB_GET), step))
