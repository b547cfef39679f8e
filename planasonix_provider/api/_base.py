"""What the sync and async clients share: settings, headers, and the outcome of one attempt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx

from planasonix_provider import __version__
from planasonix_provider.api.defaults import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
)
from planasonix_provider.api.errors import (
    PlanasonixTransportError,
    PlanasonixValidationError,
    RequestMayHaveBeenProcessedError,
)
from planasonix_provider.api.operations import Operation, error_from_response
from planasonix_provider.api.redaction import redact_text
from planasonix_provider.api.retry import RetryPolicy
from planasonix_provider.api.values import normalize_base_url
from planasonix_provider.api.wire import HttpAnswer

T = TypeVar("T")

USER_AGENT = f"planasonix-airflow-provider/{__version__}"


def check_api_key(api_key: str | None) -> str:
    if not api_key or not api_key.strip():
        raise PlanasonixValidationError("api_key is missing: every Planasonix request needs one")
    return api_key.strip()


class ClientSettings:
    """Arguments both clients accept, checked once. Its repr never shows the key."""

    __slots__ = ("_api_key", "base_url", "limits", "retry", "timeout")

    def __init__(
        self,
        base_url: str | None,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._api_key = check_api_key(api_key)
        if isinstance(timeout, httpx.Timeout):
            self.timeout = timeout
        else:
            if timeout <= 0:
                raise PlanasonixValidationError(f"timeout must be positive, got {timeout!r}")
            self.timeout = httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT))
        self.retry = retry or RetryPolicy()
        if max_connections < 1:
            raise PlanasonixValidationError(
                f"max_connections must be at least 1, got {max_connections!r}"
            )
        self.limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    def redact(self, text: str) -> str:
        """``text`` without this client's key or any bearer token."""
        return redact_text(text, self._api_key)

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "headers": self.headers(),
            "timeout": self.timeout,
            "limits": self.limits,
            "follow_redirects": False,
        }

    def __repr__(self) -> str:
        return f"ClientSettings(base_url={self.base_url!r}, api_key='***')"


def httpx_url(operation: Operation[Any], client: httpx.Client | httpx.AsyncClient) -> httpx.URL:
    """The operation's absolute URL, resolved once as the httpx client would resolve it."""
    return client.build_request(operation.method, operation.path).url


def request_target(operation: Operation[Any]) -> httpx.URL | str:
    return operation.url if isinstance(operation.url, httpx.URL) else operation.path


def request_kwargs(operation: Operation[Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"params": operation.params, "json": operation.body}
    if operation.accept is not None:  # per-request headers cost a merge on every poll
        kwargs["headers"] = {"Accept": operation.accept}
    return kwargs


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """The answer of one attempt that calls for another after ``delay`` seconds."""

    delay: float


def outcome(
    operation: Operation[T], response: HttpAnswer, retry: RetryPolicy, attempt: int
) -> T | RetryAfter:
    """Read one answer: the parsed result, or how long to wait before the next attempt.

    Raises the error of a final failure.
    """
    if response.is_success:
        return operation.parse(response, operation.info)
    if response.status_code == 409 and operation.conflict_means_not_ready:
        # Only operations whose result type admits None set this flag.
        return cast(T, None)
    error = error_from_response(operation.info, response)
    delay = retry.delay_after_status(error, creates_work=operation.creates_work, attempt=attempt)
    if delay is None:
        raise error
    return RetryAfter(delay)


def transport_delay(
    operation: Operation[Any],
    exc: httpx.TransportError,
    retry: RetryPolicy,
    attempt: int,
    settings: ClientSettings,
) -> float:
    """The wait before retrying after a transport failure; raises when there is no retry.

    A transport error's text can quote what the server sent (a malformed status line, say), so
    it is redacted; when that changed it, the original is not chained, lest a traceback show it.
    """
    text = str(exc)
    detail = settings.redact(text)
    try:
        delay = retry.delay_after_transport_error(
            operation.info, exc, creates_work=operation.creates_work, attempt=attempt
        )
    except RequestMayHaveBeenProcessedError as ambiguous:
        if detail != text:
            raise ambiguous from None
        raise
    if delay is None:
        error = PlanasonixTransportError(operation.info, exc, detail=detail)
        if detail != text:
            raise error from None
        raise error from exc
    return delay
