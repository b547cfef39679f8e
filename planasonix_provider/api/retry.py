"""The retry decisions of DESIGN.md, in one place for both clients: what to retry, and how long
to wait first. The values they read (attempts, backoff, cap on a wait) are a
:class:`~.config.RetryPolicy`, part of the client's configuration in ``config.py``.

Two kinds of request are treated differently, because retrying the wrong one starts a remote job
twice:

* Safe requests (reads, cancel, PUT, DELETE) are retried on connection errors, timeouts, 429, 500,
  502, 503 and 504, with exponential backoff and full jitter, honouring ``Retry-After``.
* Creating POSTs (sync, backfill, webhook create, test event, rotate-secret) are retried only where
  the server surely did not act: a connection that was never established, or a 429. A read timeout,
  a dropped connection or a 5xx on them raises :class:`RequestMayHaveBeenProcessedError`.

The decisions read only this package's vocabulary: an error answer as ``errors.error_from_response``
made it (``Retry-After`` parsed there), a failed send as a :class:`~.errors.NotSentError` or
:class:`~.errors.MaybeSentError`. It never sees an httpx or aiohttp type. The two functions at the
end are what both clients do with one attempt: a result, a wait before the next, or the error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from planasonix_provider.api.errors import (
    NotSentError,
    PlanasonixAPIError,
    PlanasonixTransportError,
    RequestInfo,
    RequestMayHaveBeenProcessedError,
    SendError,
    error_from_response,
)

if TYPE_CHECKING:
    from planasonix_provider.api.answers import HttpAnswer
    from planasonix_provider.api.config import RetryPolicy
    from planasonix_provider.api.operations import Operation

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def delay_after_status(
    policy: RetryPolicy, error: PlanasonixAPIError, *, creates_work: bool, attempt: int
) -> float | None:
    """Seconds to wait before retrying after an error status, or None to give up.

    Raises :class:`RequestMayHaveBeenProcessedError` for a creating POST that got a 5xx: the
    server may have started the work before it failed.
    """
    assert error.request is not None
    if creates_work and error.status_code >= 500:
        raise RequestMayHaveBeenProcessedError(
            error.request,
            f"HTTP {error.status_code}: {error.code or 'error'}: {error.api_message}"
            + (f" [request_id={error.request_id}]" if error.request_id else ""),
            status_code=error.status_code,
        ) from error
    if error.status_code not in RETRYABLE_STATUSES:
        return None
    if creates_work and error.status_code != 429:
        return None
    if attempt >= policy.max_attempts:
        return None
    return policy.backoff(attempt, error.retry_after)


def delay_after_send_error(
    policy: RetryPolicy,
    request: RequestInfo,
    failure: SendError,
    *,
    creates_work: bool,
    attempt: int,
) -> float | None:
    """Seconds to wait before retrying after a request got no answer, or None to give up.

    Raises :class:`RequestMayHaveBeenProcessedError` for a creating POST whose request may
    have reached the server: anything but a :class:`NotSentError`.
    """
    if creates_work and not isinstance(failure, NotSentError):
        raise RequestMayHaveBeenProcessedError(
            request, f"{failure.name} after the request was sent"
        ) from failure
    if attempt >= policy.max_attempts:
        return None
    return policy.backoff(attempt)


# --- One attempt, for both clients ------------------------------------------------------------


class Wait:
    """An attempt's answer that calls for another attempt after ``delay`` seconds."""

    __slots__ = ("delay",)

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __repr__(self) -> str:
        return f"Wait({self.delay!r})"


def result_or_wait(
    operation: Operation[T], response: HttpAnswer, retry: RetryPolicy, attempt: int
) -> T | Wait:
    """Read one answer: the parsed result, or how long to wait before the next attempt.

    Raises the error of a final failure.
    """
    if response.is_success:
        return operation.parse(response, operation.info)
    if response.status_code == 409 and operation.conflict_means_not_ready:
        # Only operations whose result type admits None set this flag.
        return cast(T, None)
    error = error_from_response(operation.info, response)
    delay = delay_after_status(retry, error, creates_work=operation.creates_work, attempt=attempt)
    if delay is None:
        raise error
    return Wait(delay)


def wait_after_send_error(
    operation: Operation[Any],
    failure: SendError,
    retry: RetryPolicy,
    attempt: int,
    redact: Callable[[str], str],
) -> float:
    """The wait before retrying after a request got no answer; raises when there is no retry.

    A send error's text can quote what the server sent (a malformed status line, say), so it is
    redacted; when that changed it, the original is not chained, lest a traceback show it.
    """
    text = failure.detail
    detail = redact(text)
    try:
        delay = delay_after_send_error(
            retry, operation.info, failure, creates_work=operation.creates_work, attempt=attempt
        )
    except RequestMayHaveBeenProcessedError as ambiguous:
        if detail != text:
            raise ambiguous from None
        raise
    if delay is None:
        error = PlanasonixTransportError(operation.info, failure, detail=detail)
        if detail != text:
            raise error from None
        raise error from failure
    return delay
