"""The async client's requests sent with aiohttp, without httpx in between.

Per poll in a triggerer, httpx's request and response objects on top of an aiohttp transport cost
about as much CPU again as aiohttp itself (figures in ``docs/performance.md``, "Transport
choice"). This sender uses aiohttp directly and hands back a
:class:`~planasonix_provider.api.answers.BufferedAnswer`. Its failures are mapped into this
package's :class:`~planasonix_provider.api.errors.NotSentError` and
:class:`~planasonix_provider.api.errors.MaybeSentError`, so the retry decisions (``retry.py``) stay
the one place that decides what may be retried.

Imports aiohttp: the async client imports this module only when it sends with aiohttp.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import httpx
import yarl
from aiohttp.helpers import get_env_proxy_for_url

from planasonix_provider.api.answers import BufferedAnswer
from planasonix_provider.api.config import ClientSettings
from planasonix_provider.api.errors import MaybeSentError, NotSentError, SendError
from planasonix_provider.api.operations import Operation

#: aiohttp's failure -> ours, and the name of the kind of failure (as httpx names it, so that
#: messages read the same with either sender). Most specific first: the first match wins.
ERROR_MAP: tuple[tuple[type[BaseException], type[SendError], str], ...] = (
    # Connecting, or waiting for a pool slot, timed out: nothing was sent.
    (aiohttp.ConnectionTimeoutError, NotSentError, "ConnectTimeout"),
    (aiohttp.SocketTimeoutError, MaybeSentError, "ReadTimeout"),
    # Refused, unresolvable, TLS handshake failed: nothing was sent.
    (aiohttp.ClientConnectorError, NotSentError, "ConnectError"),
    # The server closed the connection after it may have read the request.
    (aiohttp.ServerDisconnectedError, MaybeSentError, "RemoteProtocolError"),
    (aiohttp.ClientPayloadError, MaybeSentError, "ReadError"),
    (aiohttp.ClientResponseError, MaybeSentError, "RemoteProtocolError"),
    (aiohttp.ClientOSError, MaybeSentError, "ReadError"),
    (asyncio.TimeoutError, MaybeSentError, "ReadTimeout"),
)


def send_error_from_aiohttp(exc: BaseException) -> SendError:
    """Our send error for an aiohttp failure; anything unknown counts as possibly sent.

    (httpx-aiohttp maps every ``ClientConnectionError``, a server disconnect included, to
    ``ConnectTimeout``, which would let a job-creating POST be retried after the server read it.)
    """
    kind, name = next(
        ((ours, name) for cause, ours, name in ERROR_MAP if isinstance(exc, cause)),
        (MaybeSentError, "TransportError"),
    )
    return kind(name, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    """httpx's timeouts in aiohttp's terms; aiohttp has no write timeout."""
    return aiohttp.ClientTimeout(
        total=None, connect=timeout.pool, sock_connect=timeout.connect, sock_read=timeout.read
    )


class AiohttpSender:
    """One ``aiohttp.ClientSession``, opened on the first request (aiohttp wants a running loop).

    Set up to behave as the httpx sender does: no redirects followed, no resend of its own (the
    retry policy decides every one), ids sent percent-encoded as given, and the key sent to the
    API only, never to a proxy.
    """

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        headers = settings.headers()
        # Per request, not a session default: aiohttp copies a default Authorization header to a
        # proxy as Proxy-Authorization, which would hand the API key to the proxy.
        self._auth_headers = {"Authorization": headers.pop("Authorization")}
        self._default_headers = headers
        # Encoded once here (an IDN host, say), so that paths can be joined to it as encoded.
        self._base_url = str(yarl.URL(settings.base_url))
        self._session: aiohttp.ClientSession | None = None
        # Resolved now, not per request: aiohttp's trust_env reads the environment on every one.
        self._proxy = _environment_proxy(self._base_url)
        # The CA bundle the sync client (httpx) trusts, so both verify servers alike.
        self._ssl: ssl.SSLContext | bool = (
            httpx.create_ssl_context() if self._base_url.startswith("https:") else True
        )

    def _open(self) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._settings.max_connections, ssl=self._ssl),
            headers=self._default_headers,
            timeout=client_timeout(self._settings.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            proxy=self._proxy,
        )
        # aiohttp sends an idempotent request once more, at once, when a kept-alive connection
        # drops; that resend bypasses the retry policy's count and backoff. No public switch
        # exists; aiohttp's own test utilities turn it off the same way.
        session._retry_connection = False
        self._session = session
        return session

    def resolve(self, operation: Operation[Any]) -> yarl.URL:
        """The operation's absolute URL. ``encoded=True``: its path is percent-encoded already,
        and yarl would otherwise decode ``%3A``, ``%3B`` and the like back into the path."""
        return yarl.URL(self._base_url + operation.path, encoded=True)

    async def send(self, operation: Operation[Any], url: object | None = None) -> BufferedAnswer:
        """Send one request and read its whole answer; raises our :class:`SendError`."""
        session = self._session or self._open()
        target = url if isinstance(url, yarl.URL) else self.resolve(operation)
        headers = self._auth_headers
        if operation.accept is not None:
            headers = {**headers, "Accept": operation.accept}
        failure: SendError | None = None
        try:
            async with session.request(
                operation.method,
                target,
                params=operation.params,
                json=operation.body,
                headers=headers,
                allow_redirects=False,
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            failure = send_error_from_aiohttp(exc)
        if failure is not None:
            # Raised outside the except block, with no aiohttp error as its cause or context:
            # some (ClientResponseError) show the request's headers, our key among them.
            raise failure
        return BufferedAnswer(response.status, response.headers, content, response.request_info)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _environment_proxy(base_url: str) -> yarl.URL | None:
    """The proxy that HTTP(S)_PROXY and NO_PROXY give for the API, as httpx would take it, with
    any credentials (from the variable or ~/.netrc) in the URL, where aiohttp reads them."""
    try:
        proxy, auth = get_env_proxy_for_url(yarl.URL(base_url))
    except LookupError:
        return None
    if auth is not None:
        proxy = proxy.with_user(auth.login).with_password(auth.password)
    return proxy


__all__ = ["AiohttpSender", "client_timeout", "send_error_from_aiohttp"]
